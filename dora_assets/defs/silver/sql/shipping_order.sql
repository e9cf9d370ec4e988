-- The deployments of the window in shipping order: per repo by time_deployed, then deploy_id.
-- Each ships the commits its commit reaches (ancestry) that no earlier deployment of its repo
-- reached (dora_assets/lineage.py walks them).
SELECT repo, deploy_id, commit_sha
FROM silver.deployments
WHERE time_deployed >= $window_start AND time_deployed < $window_end
QUALIFY row_number() OVER (PARTITION BY repo, deploy_id ORDER BY time_deployed, delivery_id) = 1
ORDER BY repo, time_deployed, deploy_id;
