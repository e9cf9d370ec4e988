-- gold.dora_summary: the figures over rolling windows of 30 and 90 days ending at $as_of, for
-- the organisation (scope 'org', name '*'), each team (config teams; a repo without a team is its
-- own team) and each repo. Deployments, changes and rework by time_deployed; incidents by
-- time_created; the same definitions as period_figures.sql, medians and p90s over the window's
-- pairs and incidents (never medians of medians), over the rows gold publishes (gold.published_*
-- in schema.sql: held-back lead times and restore times are left out of the figures). Replaced whole at every refresh.
DELETE FROM gold.dora_summary;

INSERT INTO gold.dora_summary BY NAME
WITH windows AS (
    SELECT days AS window_days, $as_of - to_days(days) AS window_start, $as_of AS window_end
    FROM (VALUES (30), (90)) AS w(days)
),
teams AS (
    SELECT repo, coalesce(list_extract($team_names::VARCHAR[], list_position($team_repos::VARCHAR[], lower(repo))), repo) AS team
    FROM (SELECT repo FROM silver.deployments UNION SELECT repo FROM silver.incidents UNION SELECT repo FROM silver.changes)
),
failed AS (SELECT * FROM gold.failed_deployments()),
rework AS (SELECT * FROM gold.rework_deployments($as_of)),
scoped AS (
    -- Every scope a repo belongs to.
    SELECT repo, 'repo' AS scope, repo AS name FROM teams
    UNION ALL SELECT repo, 'team', team FROM teams
    UNION ALL SELECT repo, 'org', '*' FROM teams
),
deployment_figures AS (
    SELECT w.window_days, s.scope, s.name,
           count(*) AS deployments,
           count(DISTINCT d.time_deployed::DATE) AS deploy_days,
           count(*) FILTER (WHERE failed.deploy_id IS NOT NULL) AS failed_deployments,
           count(*) FILTER (WHERE rework.deploy_id IS NOT NULL) AS rework_deployments
    FROM windows AS w
    JOIN gold.published_deployments($latest_allowed) AS d
      ON d.time_deployed > w.window_start AND d.time_deployed <= w.window_end
    JOIN scoped AS s USING (repo)
    LEFT JOIN failed USING (deploy_id)
    LEFT JOIN rework USING (deploy_id)
    GROUP BY ALL
),
lead_time_figures AS (
    SELECT w.window_days, s.scope, s.name,
           count(*) AS changes_deployed,
           median(p.lead_time_hours) FILTER (WHERE NOT p.held_back) AS lead_time_median_hours,
           quantile_cont(p.lead_time_hours, 0.9) FILTER (WHERE NOT p.held_back) AS lead_time_p90_hours
    FROM windows AS w
    JOIN gold.published_lead_times($latest_allowed, $skew_hours, $exclude_lead_time_outliers, $lead_time_outlier_hours) AS p
      ON p.time_deployed > w.window_start AND p.time_deployed <= w.window_end
    JOIN scoped AS s USING (repo)
    GROUP BY ALL
),
incident_figures AS (
    SELECT w.window_days, s.scope, s.name,
           count(*) AS incidents,
           count(i.time_resolved) AS incidents_resolved,
           median(i.restore_hours) FILTER (WHERE NOT i.held_back) AS time_to_restore_median_hours,
           quantile_cont(i.restore_hours, 0.9) FILTER (WHERE NOT i.held_back) AS time_to_restore_p90_hours
    FROM windows AS w
    JOIN gold.published_incidents($latest_allowed, $skew_hours, $exclude_restore_time_outliers, $restore_outlier_hours) AS i
      ON i.time_created > w.window_start AND i.time_created <= w.window_end
    JOIN scoped AS s USING (repo)
    GROUP BY ALL
),
grid AS (
    SELECT DISTINCT w.window_days, w.window_start, w.window_end, s.scope, s.name
    FROM windows AS w, scoped AS s
),
figures AS (
    SELECT
        grid.*,
        coalesce(d.deployments, 0) AS deployments,
        coalesce(d.deploy_days, 0) AS deploy_days,
        coalesce(d.deployments, 0) * 7.0 / grid.window_days AS deployments_per_week,
        coalesce(l.changes_deployed, 0) AS changes_deployed,
        l.lead_time_median_hours,
        l.lead_time_p90_hours,
        coalesce(d.failed_deployments, 0) AS failed_deployments,
        CASE WHEN d.deployments > 0 THEN d.failed_deployments / d.deployments END AS change_failure_rate,
        coalesce(d.rework_deployments, 0) AS rework_deployments,
        CASE WHEN d.deployments > 0 THEN d.rework_deployments / d.deployments END AS rework_rate,
        coalesce(i.incidents, 0) AS incidents,
        coalesce(i.incidents_resolved, 0) AS incidents_resolved,
        i.time_to_restore_median_hours,
        i.time_to_restore_p90_hours
    FROM grid
    LEFT JOIN deployment_figures AS d USING (window_days, scope, name)
    LEFT JOIN lead_time_figures AS l USING (window_days, scope, name)
    LEFT JOIN incident_figures AS i USING (window_days, scope, name)
)
SELECT
    *,
    gold.tier_at_least(deployments_per_week, $deployment_frequency_elite, $deployment_frequency_high, $deployment_frequency_medium)
        AS deployment_frequency_tier,
    gold.tier_at_most(lead_time_median_hours, $lead_time_elite, $lead_time_high, $lead_time_medium) AS lead_time_tier,
    gold.tier_at_most(change_failure_rate, $change_failure_rate_elite, $change_failure_rate_high, $change_failure_rate_medium)
        AS change_failure_rate_tier,
    gold.tier_at_most(time_to_restore_median_hours, $time_to_restore_elite, $time_to_restore_high, $time_to_restore_medium)
        AS time_to_restore_tier,
    $benchmark AS benchmark
FROM figures
ORDER BY window_days, scope, name;
