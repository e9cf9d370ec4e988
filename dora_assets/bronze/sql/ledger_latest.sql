-- Per landing file: the size and modification time of its latest ledger row, and every
-- content hash the ledger has accounted for.
SELECT
    landing_file,
    arg_max(size_bytes, ingest_id) AS size_bytes,
    arg_max(modified_at, ingest_id) AS modified_at,
    list(content_sha256) AS content_hashes
FROM bronze.landing_files
GROUP BY landing_file;
