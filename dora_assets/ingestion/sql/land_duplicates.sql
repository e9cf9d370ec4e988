INSERT INTO bronze.duplicates
    (delivery_id, source, landing_file, line_number, first_landing_file, ingest_id, skipped_at)
SELECT delivery_id, source, landing_file, line_number, first_landing_file, $ingest_id, $ingested_at
FROM classified
WHERE outcome = 'duplicate'
ORDER BY file_order, line_number;
