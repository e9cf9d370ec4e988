-- Stamps at which files were hashed again and found to hold content the ledger has accounted
-- for (ingestion/ingest.py), from the registered frame confirmed_stamps_frame, in one statement.
INSERT INTO bronze.landing_file_stamps
    (landing_file, content_sha256, size_bytes, modified_at, inode, changed_ns, checked_at)
SELECT landing_file, content_sha256, size_bytes, modified_at, inode, changed_ns, $checked_at
FROM confirmed_stamps_frame;
