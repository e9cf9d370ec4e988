-- silver.deployment_changes: the changes each deployment shipped to production first
-- (CONTRACT 4). A deployment ships the commits of the pushes to its branch in its repo, up to
-- and including the (earliest) push whose `after` is the deployment's commit_sha; a change
-- counts once, for the earliest deployment (time_deployed, then deploy_id) that ships it.
--
-- Set-based, O(n log n): per branch, each push is shipped by the earliest deployment among
-- those whose matching push comes at or after it. Pushes are ordered by their key (pushed_at,
-- then delivery_id). Deployments sorted by their matching push's key carry a running minimum
-- from the end (a suffix minimum), and an ASOF join gives each push the deployment with the
-- nearest key at or after its own.
-- Window: pairs whose deployment's time_deployed is in [$window_start, $window_end). A push up
-- to the furthest one a deployment before the window shipped has its first shipper before the
-- window, so only the later pushes of the window's branches are placed to find the window's
-- changes (not every push of history). For those changes, every push that carried them, in any
-- branch, decides (their commits come from silver.pushed_commits, never unnested here).
DELETE FROM silver.deployment_changes WHERE time_deployed >= $window_start AND time_deployed < $window_end;

INSERT INTO silver.deployment_changes
WITH branch_pushes AS (
    -- Branch pushes, ordered within their branch by push_key (pushed_at, then delivery_id; a
    -- push without a time sorts last). Pushes that name no ref at all (minimal senders) form
    -- their own sequence, branch '' here, which only deployments naming no ref either can ship.
    SELECT
        repo,
        coalesce(branch, '') AS branch,
        after_sha,
        source,
        delivery_id,
        {'pushed_at': pushed_at, 'delivery_id': delivery_id} AS push_key
    FROM silver.pushes
    WHERE branch IS NOT NULL OR ref IS NULL
),
deployments AS (
    SELECT
        deploy_id,
        repo,
        CASE WHEN starts_with(ref, 'refs/heads/') THEN substr(ref, 12) ELSE coalesce(ref, '') END AS branch,
        commit_sha,
        time_deployed
    FROM silver.deployments
),
deployment_keys AS (
    -- The key of the (earliest) push that brought each deployment's commit to its branch: the
    -- deployment ships every push of the branch up to and including it.
    SELECT deployments.deploy_id, deployments.repo, deployments.branch, deployments.time_deployed,
           min(branch_pushes.push_key) AS shipped_up_to
    FROM deployments
    JOIN branch_pushes
      ON branch_pushes.repo = deployments.repo
     AND branch_pushes.branch = deployments.branch
     AND branch_pushes.after_sha = deployments.commit_sha
    GROUP BY ALL
),
earliest_at_key AS (
    -- Several deployments may ship up to the same push: keep the earliest (one row per push).
    SELECT repo, branch, shipped_up_to, min({'time_deployed': time_deployed, 'deploy_id': deploy_id}) AS shipper
    FROM deployment_keys
    GROUP BY ALL
),
first_shipper_from AS (
    -- For every key k: the earliest deployment among those shipping up to >= k.
    SELECT
        repo,
        branch,
        shipped_up_to,
        min(shipper) OVER (PARTITION BY repo, branch ORDER BY shipped_up_to DESC ROWS UNBOUNDED PRECEDING) AS shipper
    FROM earliest_at_key
),
shipped_before_window AS (
    -- Per branch, the furthest push a deployment before the window shipped: that deployment, or
    -- an earlier one, is the first shipper of every push up to it.
    SELECT repo, branch, max(shipped_up_to) AS shipped_up_to
    FROM deployment_keys
    WHERE time_deployed < $window_start
    GROUP BY ALL
),
window_branch_pushes AS (
    -- The only pushes a deployment of the window can ship first: on a branch a window deployment
    -- ships to, after the furthest push shipped before the window (not all of history).
    SELECT branch_pushes.*
    FROM branch_pushes
    SEMI JOIN (
        SELECT DISTINCT repo, branch FROM deployment_keys
        WHERE time_deployed >= $window_start AND time_deployed < $window_end
    ) AS window_branches USING (repo, branch)
    LEFT JOIN shipped_before_window AS shipped USING (repo, branch)
    WHERE shipped.shipped_up_to IS NULL OR branch_pushes.push_key > shipped.shipped_up_to
),
window_changes AS (
    -- The changes of the pushes a deployment of the window ships first.
    SELECT DISTINCT carried.repo, carried.change_id
    FROM window_branch_pushes AS pushes
    ASOF JOIN first_shipper_from AS shippers
      ON shippers.repo = pushes.repo
     AND shippers.branch = pushes.branch
     AND shippers.shipped_up_to >= pushes.push_key
    JOIN silver.pushed_commits AS carried USING (source, delivery_id)  -- ids are unique within a source
    WHERE carried.change_id IS NOT NULL
      AND shippers.shipper.time_deployed >= $window_start
      AND shippers.shipper.time_deployed < $window_end
),
change_shippers AS (
    -- A commit may ride several pushes (and branches): its first shipment wins, so every push
    -- that carried a window change (in any branch, at any time) is placed.
    SELECT carried.repo, carried.change_id, min(shippers.shipper) AS shipper
    FROM (SELECT * FROM silver.pushed_commits SEMI JOIN window_changes USING (repo, change_id)) AS carried
    JOIN branch_pushes AS pushes USING (source, delivery_id)
    ASOF JOIN first_shipper_from AS shippers
      ON shippers.repo = pushes.repo
     AND shippers.branch = pushes.branch
     AND shippers.shipped_up_to >= pushes.push_key
    GROUP BY ALL
)
SELECT
    change_shippers.shipper.deploy_id AS deploy_id,
    change_shippers.change_id,
    changes.source,
    change_shippers.repo,
    changes.time_created,
    change_shippers.shipper.time_deployed AS time_deployed,
    epoch(change_shippers.shipper.time_deployed - changes.time_created) / 3600.0 AS lead_time_hours
FROM change_shippers
JOIN silver.changes AS changes USING (repo, change_id)
WHERE change_shippers.shipper.time_deployed >= $window_start
  AND change_shippers.shipper.time_deployed < $window_end;
