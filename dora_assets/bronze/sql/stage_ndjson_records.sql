-- Stage the non-blank lines of .ndjson/.jsonl files as records with their physical line numbers.
-- The k-th accepted line of a file sits at line k + (rejected lines before it): a rejected line
-- r_j (j-th rejected in the file) has r_j - j accepted lines before it.
INSERT INTO staged_records
WITH accepted AS (
    SELECT
        path,
        line,
        ordinality - min(ordinality) OVER (PARTITION BY path) + 1 AS accepted_index
    FROM ndjson_lines
),
rejected AS (
    SELECT
        scans.file_path AS path,
        errors.line AS line_number,
        min(errors.error_type) AS error_type,
        min(errors.error_message) AS error_message,
        min(errors.csv_line) AS csv_line
    FROM ingest_reject_errors AS errors
    JOIN ingest_reject_scans AS scans USING (scan_id, file_id)
    GROUP BY ALL
),
rejected_ranked AS (
    SELECT *, line_number - row_number() OVER (PARTITION BY path ORDER BY line_number) AS accepted_before
    FROM rejected
)
SELECT
    files.landing_file,
    accepted.accepted_index + (
        SELECT count(*) FROM rejected_ranked AS r
        WHERE r.path = accepted.path AND r.accepted_before < accepted.accepted_index
    ) AS line_number,
    accepted.line AS record_text,
    NULL AS reject_code,
    NULL AS reject_reason
FROM accepted
JOIN batch_files AS files ON files.path = accepted.path
WHERE trim(accepted.line) <> ''
UNION ALL
SELECT
    files.landing_file,
    rejected.line_number,
    rejected.csv_line,
    CASE rejected.error_type
        WHEN 'INVALID ENCODING' THEN 'invalid_encoding'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'record_too_large'
        ELSE 'invalid_json'
    END,
    CASE rejected.error_type
        WHEN 'INVALID ENCODING' THEN 'line is not valid UTF-8'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'line is longer than the maximum record size'
        ELSE 'line is not valid JSON: ' || rejected.error_message
    END
FROM rejected
JOIN batch_files AS files ON files.path = rejected.path;
