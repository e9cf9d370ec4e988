-- After a mapped table's file (pushes, deployments, incidents, pull_requests: the tables of
-- dora_assets.sources.MAPPED_TABLES), in its transaction: its rejects replace $target_table's rows
-- of silver.rejected_events received in the window. The table's file left the candidate rows of
-- every source, with reject_reason set on the unusable ones, in the temporary table
-- mapping_candidates.
DELETE FROM silver.rejected_events
WHERE target_table = $target_table AND received_at >= $window_start AND received_at < $window_end;

INSERT INTO silver.rejected_events BY NAME
SELECT $target_table AS target_table, source, event_type, delivery_id, received_at, reject_reason AS reason
FROM mapping_candidates
WHERE reject_reason IS NOT NULL
  AND received_at >= $window_start AND received_at < $window_end;

DROP TABLE mapping_candidates;
