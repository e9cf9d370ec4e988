-- Which of $delivery_ids bronze already holds (so an overlapping re-extraction lands only what is new).
SELECT delivery_id FROM bronze.raw_events WHERE delivery_id IN (SELECT unnest($delivery_ids::VARCHAR[]));
