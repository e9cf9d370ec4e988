-- Files that hold no record at all still leave one: whole-file problems found by the scan
-- (wrong extension, empty, unsafe name, changed after ingestion, ...) and record files in
-- which no non-blank line was found.
INSERT INTO staged_records
SELECT landing_file, NULL, raw_preview, problem_code, problem
FROM batch_files
WHERE problem_code IS NOT NULL
UNION ALL
SELECT landing_file, NULL, raw_preview, 'empty_file', 'file holds no records (only blank lines)'
FROM batch_files
WHERE problem_code IS NULL
  AND landing_file NOT IN (SELECT landing_file FROM staged_records);
