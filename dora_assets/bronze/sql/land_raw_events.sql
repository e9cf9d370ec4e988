INSERT INTO bronze.raw_events
    (delivery_id, source, event_type, received_at, payload, landing_file, line_number,
     known_event_type, ingest_id, ingested_at)
SELECT delivery_id, source, event_type, received_at, payload, landing_file, line_number,
       known_event_type, $ingest_id, $ingested_at
FROM classified
WHERE outcome = 'landed'
ORDER BY file_order, line_number;
