INSERT INTO bronze.quarantine
    (landing_file, line_number, reason_code, reason, raw, delivery_id, ingest_id, quarantined_at)
SELECT landing_file, line_number, reason_code, reason, raw, delivery_id, $ingest_id, $ingested_at
FROM classified
WHERE outcome = 'quarantined'
ORDER BY file_order, line_number;
