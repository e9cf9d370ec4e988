-- The batch's row of the transform ledger (bronze.pending_transforms), in the batch's own
-- transaction: the days of silver its landed deliveries can change. From the batch's
-- affected_from (as event_day_span.sql computes it over batch_index) to the latest day any
-- delivery in bronze (this batch included, already in raw_events_index) has an event on: a late
-- push can change the lead time of any later deployment, and no silver row lies after the last
-- event. Never later than the day it landed (an event stamped in the future changes nothing after
-- today that a later transform would not cover).
-- No row when the batch landed nothing (all quarantined or duplicates): nothing to transform.
INSERT INTO bronze.pending_transforms
SELECT
    $ingest_id,
    min(earliest_at)::DATE,
    greatest(
        min(earliest_at)::DATE,
        least($ingested_at::DATE, (SELECT max(latest_at) FROM bronze.raw_events_index)::DATE)
    ),
    $ingested_at
FROM batch_index
HAVING count(*) > 0;
