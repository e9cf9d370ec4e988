-- The earliest UTC day whose derived (silver) rows the deliveries indexed in $table (an index of
-- raw_events rows: bronze.raw_events_index, or one batch's rows) can change: the earliest of
-- their received_at and of every event time silver takes from them, for every source (push and
-- commit times, deployment and build times, incident and issue creation, merges). After an
-- ingest, silver partitions from that day to today are recomputed; over all of bronze, it is
-- where a replay starts. NULL when $table is empty.
SELECT min(earliest_at)::DATE AS earliest_day FROM query_table($table);
