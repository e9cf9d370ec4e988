-- The production deployments of the repos that deploy in the window, up to its end, in shipping
-- order: per repo by time_deployed, then deploy_id. Each ships the commits its commit reaches
-- (ancestry) that no earlier deployment of its repo reached (dora_assets/lineage.py walks them
-- all, from the repo's first deployment on, so that a window's rows never depend on what an
-- earlier window's refresh wrote); in_window marks those whose rows this refresh writes.
WITH window_repos AS (
    SELECT DISTINCT repo FROM silver.deployments
    WHERE time_deployed >= $window_start AND time_deployed < $window_end
)
SELECT repo, deploy_id, commit_sha, time_deployed >= $window_start AS in_window
FROM silver.deployments
SEMI JOIN window_repos USING (repo)
WHERE time_deployed < $window_end
QUALIFY row_number() OVER (PARTITION BY repo, deploy_id ORDER BY time_deployed, delivery_id) = 1
ORDER BY repo, time_deployed, deploy_id;
