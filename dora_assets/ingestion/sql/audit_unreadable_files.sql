-- Files whose latest ledger version was quarantined whole as unreadable_file (DuckDB could not
-- read them, or they vanished after the scan), with that version's size, modification time (in
-- microseconds since the epoch), records seen and the quarantine's reason. Few by nature: the
-- audit (and the accounting check) looks at each on disk, since a file that reads fine now was
-- blamed for something that was not its fault (before issue 18, a full disk under the warehouse).
WITH latest AS (
    SELECT
        landing_file,
        max(ingest_id) AS ingest_id,
        arg_max(size_bytes, ingest_id) AS size_bytes,
        epoch_us(arg_max(modified_at, ingest_id)) AS modified_us,
        arg_max(records_seen, ingest_id) AS records_seen
    FROM bronze.landing_files
    GROUP BY landing_file
)
SELECT latest.landing_file, latest.size_bytes, latest.modified_us, latest.records_seen, min(quarantined.reason) AS reason
FROM latest
JOIN bronze.quarantine AS quarantined
    ON quarantined.landing_file = latest.landing_file
    AND quarantined.ingest_id = latest.ingest_id
    AND quarantined.line_number IS NULL
    AND quarantined.reason_code = 'unreadable_file'
GROUP BY ALL
ORDER BY latest.landing_file;
