-- The first and last UTC days whose derived (silver) rows the deliveries indexed in $table (an
-- index of raw_events rows: bronze.raw_events_index, or one batch's rows) can change: the
-- earliest and the latest of their received_at and of every event time silver takes from them,
-- for every source (push and commit times, deployment and build times, incident and issue
-- creation, merges). After an ingest, silver partitions from the batch's first day to the last
-- day of all of bronze are recomputed; over all of bronze, it is the span a replay rebuilds.
-- NULLs when $table is empty.
SELECT min(earliest_at)::DATE AS earliest_day, max(latest_at)::DATE AS latest_day FROM query_table($table);
