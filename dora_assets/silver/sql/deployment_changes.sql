-- silver.deployment_changes: the changes each deployment shipped to production first
-- (CONTRACT 4). A deployment ships the commits of the pushes to its branch in its repo, up to
-- and including the (earliest) push whose `after` is the deployment's commit_sha; a change
-- counts once, for the earliest deployment (time_deployed, then deploy_id) that ships it.
--
-- Set-based, O(n log n): per branch, each push is shipped by the earliest deployment among
-- those whose matching push comes at or after it. Deployments sorted by their matching push's
-- position carry a running minimum from the end (a suffix minimum), and an ASOF join gives
-- each push the deployment with the nearest position at or after its own.
-- Window: pairs whose deployment's time_deployed is in [$window_start, $window_end). Only a
-- change carried by a push whose first shipper is a deployment of the window can be first
-- shipped in it; for those changes, every push that carried them decides (its commits come from
-- silver.pushed_commits, so the pushes of history are compared by position, never unnested).
DELETE FROM silver.deployment_changes WHERE time_deployed >= $window_start AND time_deployed < $window_end;

INSERT INTO silver.deployment_changes
WITH branch_pushes AS (
    -- Branch pushes; pushes that name no ref at all (minimal senders) form their own sequence,
    -- branch '' here, which only deployments naming no ref either can ship.
    SELECT
        repo,
        coalesce(branch, '') AS branch,
        after_sha,
        delivery_id,
        row_number() OVER (PARTITION BY repo, coalesce(branch, '') ORDER BY pushed_at, delivery_id) AS push_position
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
deployment_positions AS (
    -- The position of the push that brought each deployment's commit to its branch.
    SELECT deployments.deploy_id, deployments.repo, deployments.branch, deployments.time_deployed,
           min(branch_pushes.push_position) AS shipped_up_to
    FROM deployments
    JOIN branch_pushes
      ON branch_pushes.repo = deployments.repo
     AND branch_pushes.branch = deployments.branch
     AND branch_pushes.after_sha = deployments.commit_sha
    GROUP BY ALL
),
earliest_at_position AS (
    -- Several deployments may ship up to the same push: keep the earliest (one row per position).
    SELECT repo, branch, shipped_up_to, min({'time_deployed': time_deployed, 'deploy_id': deploy_id}) AS shipper
    FROM deployment_positions
    GROUP BY ALL
),
first_shipper_from AS (
    -- For every position p: the earliest deployment among those shipping up to >= p.
    SELECT
        repo,
        branch,
        shipped_up_to,
        min(shipper) OVER (PARTITION BY repo, branch ORDER BY shipped_up_to DESC ROWS UNBOUNDED PRECEDING) AS shipper
    FROM earliest_at_position
),
push_shippers AS (
    SELECT branch_pushes.delivery_id, shippers.shipper
    FROM branch_pushes
    ASOF JOIN first_shipper_from AS shippers
      ON shippers.repo = branch_pushes.repo
     AND shippers.branch = branch_pushes.branch
     AND shippers.shipped_up_to >= branch_pushes.push_position
),
window_changes AS (
    -- The changes of the pushes a deployment of the window ships first.
    SELECT DISTINCT carried.repo, carried.change_id
    FROM silver.pushed_commits AS carried
    JOIN push_shippers USING (delivery_id)
    WHERE carried.change_id IS NOT NULL
      AND push_shippers.shipper.time_deployed >= $window_start
      AND push_shippers.shipper.time_deployed < $window_end
),
change_shippers AS (
    -- A commit may ride several pushes (and branches): its first shipment wins.
    SELECT carried.repo, carried.change_id, min(push_shippers.shipper) AS shipper
    FROM (SELECT * FROM silver.pushed_commits SEMI JOIN window_changes USING (repo, change_id)) AS carried
    JOIN push_shippers USING (delivery_id)
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
