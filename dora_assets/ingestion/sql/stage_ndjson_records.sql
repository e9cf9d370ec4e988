-- After read_ndjson_lines.sql, for the files $paths it read: their staged lines get physical line
-- numbers, blank lines go, and the lines the reader rejected are staged with their reasons. The
-- k-th accepted line of a file sits at line k + (rejected lines before it): a rejected line r_j
-- (j-th rejected in the file) has r_j - j accepted lines before it. The lines are updated in
-- place (one narrow column of a temporary table), never copied.
CREATE OR REPLACE TEMP TABLE ndjson_rejected AS
WITH rejected AS (
    SELECT
        scans.file_path AS path,
        errors.line AS line_number,
        min(errors.error_type) AS error_type,
        min(errors.error_message) AS error_message,
        min(errors.csv_line) AS csv_line
    FROM ingest_reject_errors AS errors
    JOIN ingest_reject_scans AS scans USING (scan_id, file_id)
    GROUP BY ALL
)
SELECT
    files.landing_file,
    rejected.*,
    rejected.line_number - row_number() OVER (PARTITION BY rejected.path ORDER BY rejected.line_number) AS accepted_before
FROM rejected
JOIN batch_files AS files ON files.path = rejected.path;

-- Ordinals -> the index of each line among its file's accepted lines.
UPDATE staged_records
SET line_number = staged_records.line_number - starts.first_ordinal + 1
FROM (
    SELECT landing_file, min(line_number) AS first_ordinal
    FROM staged_records
    WHERE landing_file IN (SELECT landing_file FROM batch_files WHERE list_contains($paths, path))
    GROUP BY landing_file
) AS starts
WHERE staged_records.landing_file = starts.landing_file;

-- Accepted index -> physical line, in files with rejected lines only.
UPDATE staged_records
SET line_number = staged_records.line_number + (
    SELECT count(*) FROM ndjson_rejected AS r
    WHERE r.landing_file = staged_records.landing_file AND r.accepted_before < staged_records.line_number
)
WHERE landing_file IN (SELECT landing_file FROM ndjson_rejected);

-- Blank lines (marked by read_ndjson_lines.sql) are no records.
DELETE FROM staged_records WHERE reject_code = 'blank_line';

INSERT INTO staged_records
SELECT
    landing_file,
    line_number,
    csv_line,
    CASE error_type
        WHEN 'INVALID ENCODING' THEN 'invalid_encoding'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'record_too_large'
        ELSE 'invalid_json'
    END,
    CASE error_type
        WHEN 'INVALID ENCODING' THEN 'line is not valid UTF-8'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'line is longer than the maximum record size'
        ELSE 'line is not valid JSON: ' || error_message
    END
FROM ndjson_rejected;
