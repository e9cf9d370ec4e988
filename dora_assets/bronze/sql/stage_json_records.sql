-- Stage each .json file as one record (the whole file is one envelope).
INSERT INTO staged_records
SELECT
    files.landing_file,
    NULL AS line_number,
    try(decode(blobs.content)) AS record_text,
    CASE WHEN try(decode(blobs.content)) IS NULL THEN 'invalid_encoding' END AS reject_code,
    CASE WHEN try(decode(blobs.content)) IS NULL THEN 'file is not valid UTF-8' END AS reject_reason
FROM read_blob($paths) AS blobs
JOIN batch_files AS files ON files.path = blobs.filename;
