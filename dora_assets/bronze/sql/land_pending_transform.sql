-- The batch's row of the transform ledger (bronze.pending_transforms), in the batch's own
-- transaction: the days of silver its landed deliveries can change, from the batch's
-- affected_from (as earliest_event_day.sql computes it over batch_index) to the day it landed.
-- No row when the batch landed nothing (all quarantined or duplicates): nothing to transform.
INSERT INTO bronze.pending_transforms
SELECT
    $ingest_id,
    min(earliest_at)::DATE,
    greatest(min(earliest_at)::DATE, $ingested_at::DATE),
    $ingested_at
FROM batch_index
HAVING count(*) > 0;
