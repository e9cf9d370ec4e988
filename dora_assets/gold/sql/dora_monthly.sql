-- gold.dora_monthly: one row per (calendar month in UTC, repo), plus org-wide rows (repo '*').
-- Every repo has a row for each month from its first activity to the latest month with any
-- activity, so a month without deployments shows as 0 rather than vanishing.
--   deployments / deploy_days   production deployments and distinct UTC days with one
--   lead_time_median_hours      continuous median over (deployment, change) pairs of the month
--   failed_deployments          deployments shipping the root cause of at least one incident
--   change_failure_rate         failed_deployments / deployments (NULL without deployments)
--   incidents / incidents_resolved / time_to_restore_median_hours
--                               over incidents created in the month (median of resolved ones)
-- Tiers use the cut-offs of benchmark $benchmark (dora_assets/benchmarks.py).
-- Window: months in [$month_start, $month_end).
DELETE FROM gold.dora_monthly WHERE month >= $month_start AND month < $month_end;

INSERT INTO gold.dora_monthly
WITH incident_causes AS (
    SELECT DISTINCT root_cause_sha FROM silver.incidents WHERE root_cause_sha IS NOT NULL
),
failed AS (
    -- Root causes may be abbreviated shas: match on the 7-character prefix, then the full prefix.
    SELECT DISTINCT shipped.deploy_id
    FROM silver.deployment_changes AS shipped
    JOIN incident_causes AS causes
      ON left(shipped.change_id, 7) = left(causes.root_cause_sha, 7)
     AND starts_with(shipped.change_id, causes.root_cause_sha)
),
deployments AS (
    SELECT
        date_trunc('month', d.time_deployed)::DATE AS month,
        d.repo,
        d.time_deployed::DATE AS deploy_day,
        failed.deploy_id IS NOT NULL AS is_failed
    FROM silver.deployments AS d
    LEFT JOIN failed USING (deploy_id)
),
deployment_figures AS (
    SELECT
        month,
        coalesce(repo, '*') AS repo,
        count(*) AS deployments,
        count(DISTINCT deploy_day) AS deploy_days,
        count(*) FILTER (WHERE is_failed) AS failed_deployments
    FROM deployments
    GROUP BY GROUPING SETS ((month, repo), (month))
),
lead_time_figures AS (
    SELECT
        date_trunc('month', time_deployed)::DATE AS month,
        coalesce(repo, '*') AS repo,
        count(*) AS changes_deployed,
        median(lead_time_hours) AS lead_time_median_hours
    FROM silver.deployment_changes
    GROUP BY GROUPING SETS ((month, repo), (month))
),
incident_figures AS (
    SELECT
        date_trunc('month', time_created)::DATE AS month,
        coalesce(repo, '*') AS repo,
        count(*) AS incidents,
        count(time_resolved) AS incidents_resolved,
        median(epoch(time_resolved - time_created) / 3600.0) AS time_to_restore_median_hours
    FROM silver.incidents
    GROUP BY GROUPING SETS ((month, repo), (month))
),
activity AS (
    SELECT repo, date_trunc('month', time_deployed)::DATE AS month FROM silver.deployments
    UNION ALL
    SELECT repo, date_trunc('month', time_created)::DATE FROM silver.changes
    UNION ALL
    SELECT repo, date_trunc('month', time_created)::DATE FROM silver.incidents
),
activity_span AS (
    SELECT repo, min(month) AS first_month FROM activity GROUP BY repo
    UNION ALL
    SELECT '*', min(month) FROM activity
),
month_grid AS (
    SELECT span.repo, grid.month::DATE AS month
    FROM activity_span AS span,
         generate_series(span.first_month, (SELECT max(month) FROM activity), INTERVAL 1 MONTH) AS grid(month)
),
figures AS (
    SELECT
        grid.month,
        grid.repo,
        CASE WHEN grid.repo = '*' THEN '*'
             ELSE coalesce(list_extract($team_names::VARCHAR[], list_position($team_repos::VARCHAR[], lower(grid.repo))), grid.repo)
        END AS team,
        coalesce(d.deployments, 0) AS deployments,
        coalesce(d.deploy_days, 0) AS deploy_days,
        coalesce(d.deployments, 0) * 7.0 / day(last_day(grid.month)) AS deployments_per_week,
        coalesce(l.changes_deployed, 0) AS changes_deployed,
        l.lead_time_median_hours,
        coalesce(d.failed_deployments, 0) AS failed_deployments,
        CASE WHEN coalesce(d.deployments, 0) > 0 THEN d.failed_deployments / d.deployments END AS change_failure_rate,
        coalesce(i.incidents, 0) AS incidents,
        coalesce(i.incidents_resolved, 0) AS incidents_resolved,
        i.time_to_restore_median_hours
    FROM month_grid AS grid
    LEFT JOIN deployment_figures AS d USING (month, repo)
    LEFT JOIN lead_time_figures AS l USING (month, repo)
    LEFT JOIN incident_figures AS i USING (month, repo)
    WHERE grid.month >= $month_start AND grid.month < $month_end
)
SELECT
    *,
    CASE
        WHEN deployments_per_week >= $deployment_frequency_elite THEN 'elite'
        WHEN deployments_per_week >= $deployment_frequency_high THEN 'high'
        WHEN deployments_per_week >= $deployment_frequency_medium THEN 'medium'
        ELSE 'low'
    END AS deployment_frequency_tier,
    CASE
        WHEN lead_time_median_hours IS NULL THEN NULL
        WHEN lead_time_median_hours <= $lead_time_elite THEN 'elite'
        WHEN lead_time_median_hours <= $lead_time_high THEN 'high'
        WHEN lead_time_median_hours <= $lead_time_medium THEN 'medium'
        ELSE 'low'
    END AS lead_time_tier,
    CASE
        WHEN change_failure_rate IS NULL THEN NULL
        WHEN change_failure_rate <= $change_failure_rate_elite THEN 'elite'
        WHEN change_failure_rate <= $change_failure_rate_high THEN 'high'
        WHEN change_failure_rate <= $change_failure_rate_medium THEN 'medium'
        ELSE 'low'
    END AS change_failure_rate_tier,
    CASE
        WHEN time_to_restore_median_hours IS NULL THEN NULL
        WHEN time_to_restore_median_hours <= $time_to_restore_elite THEN 'elite'
        WHEN time_to_restore_median_hours <= $time_to_restore_high THEN 'high'
        WHEN time_to_restore_median_hours <= $time_to_restore_medium THEN 'medium'
        ELSE 'low'
    END AS time_to_restore_tier,
    $benchmark AS benchmark
FROM figures
ORDER BY month, repo;
