-- Record that $delivery_ids were written to $landing_file (after the file is in place).
INSERT INTO extract.landed_deliveries (delivery_id, landing_file, landed_at)
SELECT unnest($delivery_ids::VARCHAR[]), $landing_file, $landed_at
ON CONFLICT (delivery_id) DO NOTHING;
