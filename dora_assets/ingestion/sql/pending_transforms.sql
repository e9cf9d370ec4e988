-- The transform ledger's pending rows: ingest batches whose days no dora_transform run has
-- rebuilt yet (no row of gold.transform_runs read bronze through the batch and covered its days;
-- days before the first partition, $partitions_start, are in no partition and need no cover).
-- `covered` says whether a run in flight, described by $through_ingest_id, $first_day and
-- $last_day (NULL when there is none), covers the row: it is being healed by that run.
SELECT
    pending.ingest_id,
    pending.first_day,
    pending.last_day,
    pending.recorded_at,
    coalesce(
        pending.ingest_id <= $through_ingest_id::BIGINT
        AND greatest(pending.first_day, $partitions_start::DATE) >= $first_day::DATE
        AND pending.last_day <= $last_day::DATE,
        false
    ) AS covered
FROM bronze.pending_transforms AS pending
WHERE NOT EXISTS (
    SELECT 1
    FROM gold.transform_runs AS run
    WHERE run.through_ingest_id >= pending.ingest_id
      AND run.first_day <= greatest(pending.first_day, $partitions_start::DATE)
      AND run.last_day >= pending.last_day
)
ORDER BY pending.ingest_id;
