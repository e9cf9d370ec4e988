-- Stage each .json file as one record (the whole file is one envelope). A UTF-8 byte order mark
-- opening the file is not part of the record: the rule DuckDB's line reader applies to an
-- .ndjson file's first line (read_ndjson_lines.sql), and the streaming reader's too.
INSERT INTO staged_records
SELECT
    files.landing_file,
    NULL AS line_number,
    CASE WHEN starts_with(blobs.text, chr(65279)) THEN substr(blobs.text, 2) ELSE blobs.text END AS record_text,
    CASE WHEN blobs.text IS NULL THEN 'invalid_encoding' END AS reject_code,
    CASE WHEN blobs.text IS NULL THEN 'file is not valid UTF-8' END AS reject_reason
FROM (SELECT filename, try(decode(content)) AS text FROM read_blob($paths)) AS blobs
JOIN batch_files AS files ON files.path = blobs.filename;
