-- The audit, as the temporary view bronze_audit_files: one row per landing file that bronze
-- knows of (from the ledger or from any bronze table). `seen` comes from the ledger, written when the file was ingested; landed, quarantined
-- and duplicates are recounted from the bronze tables themselves, so a lost or doubled row
-- shows up as `seen <> landed + quarantined + duplicates` or as a ledger/table mismatch.
CREATE OR REPLACE TEMP VIEW bronze_audit_files AS
WITH ledger AS (
    SELECT
        landing_file,
        count(*) AS versions,
        arg_max(status, ingest_id) AS status,
        arg_max(size_bytes, ingest_id) AS size_bytes,
        arg_max(modified_at, ingest_id) AS modified_at,
        arg_max(inode, ingest_id) AS inode,
        arg_max(changed_ns, ingest_id) AS changed_ns,
        list(content_sha256) AS content_hashes,
        arg_max(records_seen, ingest_id) AS latest_version_seen,
        sum(records_seen) AS seen,
        sum(records_landed) AS ledger_landed,
        sum(records_quarantined) AS ledger_quarantined,
        sum(records_duplicate) AS ledger_duplicates,
        max(ingested_at) AS last_ingested_at
    FROM bronze.landing_files
    GROUP BY landing_file
),
landed AS (SELECT landing_file, count(*) AS landed FROM bronze.raw_events GROUP BY landing_file),
quarantined AS (SELECT landing_file, count(*) AS quarantined FROM bronze.quarantine GROUP BY landing_file),
duplicates AS (SELECT landing_file, count(*) AS duplicates FROM bronze.duplicates GROUP BY landing_file),
known_files AS (
    SELECT landing_file FROM ledger
    UNION SELECT landing_file FROM landed
    UNION SELECT landing_file FROM quarantined
    UNION SELECT landing_file FROM duplicates
)
SELECT
    known_files.landing_file,
    coalesce(ledger.versions, 0) AS versions,
    ledger.status,
    ledger.size_bytes,
    ledger.modified_at,
    ledger.inode,
    ledger.changed_ns,
    ledger.content_hashes,
    ledger.latest_version_seen,
    coalesce(ledger.seen, 0) AS seen,
    coalesce(landed.landed, 0) AS landed,
    coalesce(quarantined.quarantined, 0) AS quarantined,
    coalesce(duplicates.duplicates, 0) AS duplicates,
    coalesce(ledger.ledger_landed, 0) AS ledger_landed,
    coalesce(ledger.ledger_quarantined, 0) AS ledger_quarantined,
    coalesce(ledger.ledger_duplicates, 0) AS ledger_duplicates,
    ledger.last_ingested_at
FROM known_files
LEFT JOIN ledger USING (landing_file)
LEFT JOIN landed USING (landing_file)
LEFT JOIN quarantined USING (landing_file)
LEFT JOIN duplicates USING (landing_file);
