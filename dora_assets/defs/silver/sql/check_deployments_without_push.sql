-- Production deployments whose commit no push of their repo ever carried (neither as a push's
-- `after` nor among its commits): push webhooks are missing, so the changes they shipped and
-- their lead times are missing too.
-- (Two anti joins probe the pushes and the changes with the few deployments, rather than a
-- distinct union of every known sha.)
WITH orphans AS (
    SELECT deployments.*
    FROM silver.deployments AS deployments
    ANTI JOIN silver.pushes AS pushes ON pushes.repo = deployments.repo AND pushes.after_sha = deployments.commit_sha
    ANTI JOIN silver.changes AS changes ON changes.repo = deployments.repo AND changes.change_id = deployments.commit_sha
)
SELECT
    (SELECT count(*) FROM silver.deployments) AS deployments,
    count(*) AS affected,
    list(deploy_id || ' (' || repo || ' ' || left(commit_sha, 12) || ')' ORDER BY time_deployed DESC)[1:$max_examples] AS examples,
    list(DISTINCT repo ORDER BY repo)[1:$max_examples] AS repos,
    list(DISTINCT time_deployed::DATE ORDER BY time_deployed::DATE DESC)[1:$max_examples] AS days
FROM orphans;
