-- The newest ingest batch of the transform ledger: a transform that began after an ingest
-- reported it has read bronze through it. NULL before any batch landed a delivery.
SELECT max(ingest_id) AS ingested_through FROM bronze.pending_transforms;
