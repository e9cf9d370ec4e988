-- Schema drift and sender trouble over the files ingested since $since: the shares of
-- quarantined records, duplicate records and deliveries of unknown event types, overall and
-- per file of at least $min_file_records records (a corrupted batch file stands out even in a
-- large ingest; a single-delivery file that is a redelivery is normal).
WITH recent_files AS (
    SELECT landing_file, records_seen, records_quarantined, records_duplicate
    FROM bronze.landing_files
    WHERE ingested_at >= $since
),
unknown AS (
    SELECT count(*) FILTER (WHERE NOT known_event_type) AS unknown, count(*) AS landed,
           list(DISTINCT source || ':' || event_type) FILTER (WHERE NOT known_event_type)[1:$max_examples] AS unknown_types
    FROM bronze.raw_events
    WHERE ingested_at >= $since
)
SELECT
    coalesce(sum(records_seen), 0) AS seen,
    coalesce(sum(records_quarantined), 0) AS quarantined,
    coalesce(sum(records_duplicate), 0) AS duplicates,
    (SELECT landed FROM unknown) AS landed,
    (SELECT unknown FROM unknown) AS unknown_event_types,
    (SELECT unknown_types FROM unknown) AS unknown_type_examples,
    list(landing_file || ': ' || records_quarantined || ' of ' || records_seen ORDER BY records_quarantined DESC)
        FILTER (WHERE records_seen >= $min_file_records AND records_quarantined > $max_file_quarantine_share * records_seen)[1:$max_examples]
        AS files_mostly_quarantined,
    count(*) FILTER (WHERE records_seen >= $min_file_records AND records_quarantined > $max_file_quarantine_share * records_seen)
        AS files_mostly_quarantined_count,
    list(landing_file || ': ' || records_duplicate || ' of ' || records_seen ORDER BY records_duplicate DESC)
        FILTER (WHERE records_seen >= $min_file_records AND records_duplicate > $max_file_duplicate_share * records_seen)[1:$max_examples]
        AS files_mostly_duplicate,
    count(*) FILTER (WHERE records_seen >= $min_file_records AND records_duplicate > $max_file_duplicate_share * records_seen)
        AS files_mostly_duplicate_count
FROM recent_files;
