-- The org-wide rows (repo '*') of gold.dora_monthly must add up: for every month, each count
-- equals the sum over that month's repo rows. One row per month and figure that disagrees.
WITH sums AS (
    SELECT
        month,
        sum(deployments) FILTER (WHERE repo <> '*') AS repo_deployments,
        sum(deployments) FILTER (WHERE repo = '*') AS org_deployments,
        sum(failed_deployments) FILTER (WHERE repo <> '*') AS repo_failed,
        sum(failed_deployments) FILTER (WHERE repo = '*') AS org_failed,
        sum(changes_deployed) FILTER (WHERE repo <> '*') AS repo_changes,
        sum(changes_deployed) FILTER (WHERE repo = '*') AS org_changes,
        sum(incidents) FILTER (WHERE repo <> '*') AS repo_incidents,
        sum(incidents) FILTER (WHERE repo = '*') AS org_incidents
    FROM gold.dora_monthly
    GROUP BY month
)
SELECT month, figure, org_value, repo_sum
FROM sums,
     (VALUES ('deployments'), ('failed_deployments'), ('changes_deployed'), ('incidents')) AS figures(figure),
     LATERAL (
         SELECT
             CASE figure WHEN 'deployments' THEN org_deployments WHEN 'failed_deployments' THEN org_failed
                         WHEN 'changes_deployed' THEN org_changes ELSE org_incidents END AS org_value,
             CASE figure WHEN 'deployments' THEN repo_deployments WHEN 'failed_deployments' THEN repo_failed
                         WHEN 'changes_deployed' THEN repo_changes ELSE repo_incidents END AS repo_sum
     )
WHERE org_value IS DISTINCT FROM coalesce(repo_sum, 0)
ORDER BY month, figure;
