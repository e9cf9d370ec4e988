-- The folders that settled in this ingest (ingestion/ingest.py settle_folders), from the registered
-- frame settled_folders_frame, in one statement.
INSERT INTO bronze.landing_folders (folder, modified_ns, changed_ns, inode, files, settled_at)
SELECT folder, modified_ns, changed_ns, inode, files, $settled_at
FROM settled_folders_frame;
