-- Which of $delivery_ids have been landed before: by this extractor (landing files possibly not
-- ingested yet) or by any other way into bronze (a webhook of the same object id).
SELECT delivery_id FROM extract.landed_deliveries WHERE delivery_id IN (SELECT unnest($delivery_ids::VARCHAR[]))
UNION
SELECT delivery_id FROM bronze.raw_events WHERE delivery_id IN (SELECT unnest($delivery_ids::VARCHAR[]));
