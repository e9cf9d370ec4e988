-- Per leaf folder of the landing folder: the stamp it had when it last settled
-- (bronze.landing_folders; the latest row wins).
SELECT folder, modified_ns, changed_ns, inode
FROM bronze.landing_folders
QUALIFY row_number() OVER (PARTITION BY folder ORDER BY settled_at DESC, changed_ns DESC) = 1;
