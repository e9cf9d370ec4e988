-- A dora_transform run's row of gold.transform_runs: it rebuilt every silver table over
-- $first_day..$last_day and then gold, having read bronze through batch $through_ingest_id. Its
-- existence clears the pending rows it covers (ingestion/sql/pending_transforms.sql).
INSERT OR REPLACE INTO gold.transform_runs
VALUES ($run_id, $through_ingest_id, $first_day, $last_day, $windows_cleared, $finished_at);
