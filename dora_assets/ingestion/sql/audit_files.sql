-- The audit, as the temporary view bronze_audit_files: one row per landing file that bronze
-- knows of (from the ledger or from any bronze table). `seen` comes from the ledger, written when the file was ingested; landed, quarantined
-- and duplicates are recounted from the bronze tables themselves, so a lost or doubled row
-- shows up as `seen <> landed + quarantined + duplicates` or as a ledger/table mismatch.
-- A file's figures count what it holds now: the versions from its latest one read again whole
-- after lines were appended ('appended_after_ingestion', whose records are the file's every
-- line: those landed by earlier versions are its duplicates) on; earlier versions are history.
-- The ledger's landed/quarantined/duplicate figures are compared with bronze's over every
-- version (ledger_* against *_all), so no row of any version goes unaccounted for.
CREATE OR REPLACE TEMP VIEW bronze_audit_files AS
WITH baselines AS (
    SELECT
        landing_file,
        coalesce(max(ingest_id) FILTER (WHERE status = 'appended_after_ingestion'), 0) AS since_ingest_id
    FROM bronze.landing_files
    GROUP BY landing_file
),
ledger AS (
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
        sum(records_seen) FILTER (WHERE ingest_id >= since_ingest_id) AS seen,
        sum(records_landed) AS ledger_landed,
        sum(records_quarantined) AS ledger_quarantined,
        sum(records_duplicate) AS ledger_duplicates,
        max(ingested_at) AS last_ingested_at
    FROM bronze.landing_files
    JOIN baselines USING (landing_file)
    GROUP BY landing_file
),
landed AS (
    SELECT
        landing_file,
        count(*) FILTER (WHERE ingest_id >= coalesce(since_ingest_id, 0)) AS landed,
        count(*) AS landed_all
    FROM bronze.raw_events LEFT JOIN baselines USING (landing_file)
    GROUP BY landing_file
),
quarantined AS (
    SELECT
        landing_file,
        count(*) FILTER (WHERE ingest_id >= coalesce(since_ingest_id, 0)) AS quarantined,
        count(*) AS quarantined_all
    FROM bronze.quarantine LEFT JOIN baselines USING (landing_file)
    GROUP BY landing_file
),
duplicates AS (
    SELECT
        landing_file,
        count(*) FILTER (WHERE ingest_id >= coalesce(since_ingest_id, 0)) AS duplicates,
        count(*) AS duplicates_all
    FROM bronze.duplicates LEFT JOIN baselines USING (landing_file)
    GROUP BY landing_file
),
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
    coalesce(landed.landed_all, 0) AS landed_all,
    coalesce(quarantined.quarantined_all, 0) AS quarantined_all,
    coalesce(duplicates.duplicates_all, 0) AS duplicates_all,
    coalesce(ledger.ledger_landed, 0) AS ledger_landed,
    coalesce(ledger.ledger_quarantined, 0) AS ledger_quarantined,
    coalesce(ledger.ledger_duplicates, 0) AS ledger_duplicates,
    ledger.last_ingested_at
FROM known_files
LEFT JOIN ledger USING (landing_file)
LEFT JOIN landed USING (landing_file)
LEFT JOIN quarantined USING (landing_file)
LEFT JOIN duplicates USING (landing_file);
