-- One ledger row per file of the batch, with its record accounting
-- (records_seen = landed + quarantined + duplicate by construction).
INSERT INTO bronze.landing_files (
    landing_file, content_sha256, size_bytes, modified_at, status, records_seen, records_landed,
    records_quarantined, records_duplicate, ingest_id, ingested_at, inode, changed_ns
)
SELECT
    files.landing_file,
    files.content_sha256,
    files.size_bytes,
    files.modified_at,
    files.status,
    count(records.outcome) AS records_seen,
    count(records.outcome) FILTER (WHERE records.outcome = 'landed') AS records_landed,
    count(records.outcome) FILTER (WHERE records.outcome = 'quarantined') AS records_quarantined,
    count(records.outcome) FILTER (WHERE records.outcome = 'duplicate') AS records_duplicate,
    $ingest_id,
    $ingested_at,
    files.inode,
    files.changed_ns
FROM batch_files AS files
LEFT JOIN classified AS records USING (landing_file)
GROUP BY ALL
ORDER BY min(files.file_order);
