-- Files that hold no record at all still leave one: whole-file problems found by the scan
-- (wrong extension, empty, unsafe name, changed after ingestion, ...), .ndjson/.jsonl files in
-- which no non-blank line was found, and .json files DuckDB found nothing in (the file vanished
-- or became unreadable between the scan and the read).
INSERT INTO staged_records
SELECT landing_file, NULL, raw_preview, problem_code, problem
FROM batch_files
WHERE problem_code IS NOT NULL
UNION ALL
SELECT
    landing_file,
    NULL,
    raw_preview,
    CASE WHEN kind = 'json' THEN 'unreadable_file' ELSE 'empty_file' END,
    CASE WHEN kind = 'json' THEN 'file could not be read: it vanished or became unreadable after the scan'
         ELSE 'file holds no records (only blank lines)' END
FROM batch_files
WHERE problem_code IS NULL
  AND landing_file NOT IN (SELECT landing_file FROM staged_records);
