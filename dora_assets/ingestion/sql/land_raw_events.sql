-- The batch's landed deliveries, in the batch's transaction. No ORDER BY: sorting the batch's
-- payloads by file and line cost about 7% of ingest (bench/README.md), and nothing reads bronze by
-- its physical order (each row carries landing_file and line_number; a batch spans a few days,
-- so received_at's row-group statistics, which silver's window pruning uses, are unchanged).
INSERT INTO bronze.raw_events
    (delivery_id, source, event_type, received_at, payload, landing_file, line_number,
     known_event_type, ingest_id, ingested_at)
SELECT delivery_id, source, event_type, received_at, payload, landing_file, line_number,
       known_event_type, $ingest_id, $ingested_at
FROM classified
WHERE outcome = 'landed';
