-- Which of $delivery_ids have been landed before: by this extractor (landing files possibly not
-- ingested yet) or by any other way into bronze (a webhook of the same object id). The extractor
-- lands GitHub deliveries only, and an id is unique only within its source: the same id from
-- another source is another delivery.
SELECT delivery_id FROM extract.landed_deliveries WHERE delivery_id IN (SELECT unnest($delivery_ids::VARCHAR[]))
UNION
SELECT delivery_id FROM bronze.raw_events
WHERE source = 'github' AND delivery_id IN (SELECT unnest($delivery_ids::VARCHAR[]));
