-- Production deployments whose commit no push of their repo ever carried (neither as a push's
-- `after` nor among its commits): push webhooks are missing, so the changes they shipped and
-- their lead times are missing too.
WITH known_commits AS (
    SELECT repo, after_sha AS sha FROM silver.pushes
    UNION
    SELECT repo, change_id FROM silver.changes
),
orphans AS (
    SELECT deployments.*
    FROM silver.deployments AS deployments
    ANTI JOIN known_commits ON known_commits.repo = deployments.repo AND known_commits.sha = deployments.commit_sha
)
SELECT
    (SELECT count(*) FROM silver.deployments) AS deployments,
    count(*) AS affected,
    list(deploy_id || ' (' || repo || ' ' || left(commit_sha, 12) || ')' ORDER BY time_deployed DESC)[1:$max_examples] AS examples,
    list(DISTINCT repo ORDER BY repo)[1:$max_examples] AS repos,
    list(DISTINCT time_deployed::DATE ORDER BY time_deployed::DATE DESC)[1:$max_examples] AS days
FROM orphans;
