-- Per landing file of $landing_files: the size and modification time (in microseconds since the
-- epoch, compared with the file's as integers) of its latest ledger row, every content hash the
-- ledger has accounted for, that row's inode and ctime (NULL when it predates them), and the
-- stamps (size, modification time, inode, ctime) at which bronze.landing_file_stamps confirmed
-- that the file holds content the ledger accounted for, and the latest row's content hash (a
-- file that grew is a new version of it when its first size_bytes bytes still hash to it).
-- Files the ledger does not know have no row.
WITH latest AS (
    SELECT
        landing_file,
        arg_max(size_bytes, ingest_id) AS size_bytes,
        epoch_us(arg_max(modified_at, ingest_id)) AS modified_us,
        list(content_sha256) AS content_hashes,
        arg_max(inode, ingest_id) AS inode,
        arg_max(changed_ns, ingest_id) AS changed_ns,
        arg_max(content_sha256, ingest_id) AS latest_sha256
    FROM bronze.landing_files
    WHERE landing_file IN (SELECT unnest($landing_files::VARCHAR[]))
    GROUP BY landing_file
),
confirmed AS (
    SELECT landing_file, list([size_bytes, epoch_us(modified_at), inode, changed_ns]) AS stamps
    FROM bronze.landing_file_stamps
    WHERE landing_file IN (SELECT unnest($landing_files::VARCHAR[]))
    GROUP BY landing_file
)
SELECT
    latest.landing_file,
    latest.size_bytes,
    latest.modified_us,
    latest.content_hashes,
    latest.inode,
    latest.changed_ns,
    coalesce(confirmed.stamps, []) AS stamps,
    latest.latest_sha256
FROM latest
LEFT JOIN confirmed USING (landing_file);
