-- Per landing file of $landing_files: the size and modification time (in microseconds since the
-- epoch, compared with the file's as integers) of its latest ledger row, and every content hash
-- the ledger has accounted for. Files the ledger does not know have no row.
SELECT
    landing_file,
    arg_max(size_bytes, ingest_id) AS size_bytes,
    epoch_us(arg_max(modified_at, ingest_id)) AS modified_us,
    list(content_sha256) AS content_hashes
FROM bronze.landing_files
WHERE landing_file IN (SELECT unnest($landing_files::VARCHAR[]))
GROUP BY landing_file;
