-- The batch's rows of bronze.raw_events_index (one per landed delivery; defs/bronze/sql/schema.sql),
-- in the batch's transaction. batch_index is kept for the batch's affected_from.
CREATE OR REPLACE TEMP TABLE batch_index AS SELECT * FROM bronze.raw_events_index_rows('batch_landed');

INSERT INTO bronze.raw_events_index SELECT * FROM batch_index;
