-- The DORA figures per (period, repo), plus org-wide rows (repo '*'), for periods of $grain
-- ('month' or 'week': ISO weeks starting on Monday), into the temporary table period_figures,
-- which dora_monthly.sql and dora_weekly.sql copy into their tables. Every repo has a row for
-- each period from its first activity to the latest period with any activity, so a quiet period
-- shows as 0 rather than vanishing.
--   deployments / deploy_days       production deployments and distinct UTC days with one
--   lead_time_median/_p90_hours     continuous median and 90th percentile over the period's
--                                   (deployment, change) pairs
--   failed_deployments              deployments shipping the root cause of at least one incident
--   change_failure_rate             failed_deployments / deployments (NULL without deployments)
--   rework_deployments / _rate      deployments made while one of the repo's incidents was open
--                                   (created <= deployed <= resolved; an unresolved incident
--                                   counts as open for its first day, up to $as_of):
--                                   unplanned deployments made because of an incident (DORA 2024's
--                                   fifth metric); rework_rate = rework / deployments
--   incidents / incidents_resolved / time_to_restore_median/_p90_hours
--                                   over incidents created in the period (resolved ones' times)
--   lead_times_held_back            (deployment, change) pairs of the period left out of the lead
--                                   time figures: negative beyond the clock-skew tolerance
--                                   ($skew_hours; the change cannot postdate its deployment), or
--                                   longer than $lead_time_outlier_hours when the config excludes
--                                   outliers. They still count in changes_deployed.
--   changes_with_pull_request       counted changes that merged (or belong to) a pull request
--   lead_time_starts_branch_pushes / lead_time_starts_api / lead_time_starts_pr_opened
--                                   counted changes whose lead time starts at their pull request's
--                                   first commit from branch pushes, from the API's commits, or (the
--                                   fallback) at the request's opening; the rest start at the commit
--   bot_changes                     shipped changes by bots (config lead_time.bot_authors), counted
--                                   apart whether or not lead time includes them
--   changes_before_tracking         changes a repo's first known deployment shipped that predate
--                                   the onboarding of its API history: in no figure
--   restore_times_held_back         resolved incidents of the period left out of the time to
--                                   restore figures: resolved before created (beyond the
--                                   tolerance), or longer than $restore_outlier_hours when the
--                                   config excludes outliers. They still count as incidents.
-- Figures are computed over the rows gold publishes (gold.published_* in schema.sql): wrong rows
-- are held back per repo and period instead of stopping every repo's gold.
-- Tiers use the cut-offs of benchmark $benchmark (dora_assets/benchmarks.py); rework has none.
CREATE OR REPLACE TEMP TABLE period_figures AS
WITH failed AS (SELECT * FROM gold.failed_deployments()),
rework AS (SELECT * FROM gold.rework_deployments($as_of)),
published_deployments AS (SELECT * FROM gold.published_deployments($latest_allowed)),
published_changes AS (
    SELECT * FROM gold.published_lead_times($latest_allowed, $skew_hours, $exclude_lead_time_outliers, $lead_time_outlier_hours)
),
published_incidents AS (
    SELECT * FROM gold.published_incidents($latest_allowed, $skew_hours, $exclude_restore_time_outliers, $restore_outlier_hours)
),
deployments AS (
    SELECT
        date_trunc($grain, d.time_deployed)::DATE AS period,
        d.repo,
        d.time_deployed::DATE AS deploy_day,
        failed.deploy_id IS NOT NULL AS is_failed,
        rework.deploy_id IS NOT NULL AS is_rework
    FROM published_deployments AS d
    LEFT JOIN failed USING (deploy_id)
    LEFT JOIN rework USING (deploy_id)
),
deployment_figures AS (
    SELECT
        period,
        coalesce(repo, '*') AS repo,
        count(*) AS deployments,
        count(DISTINCT deploy_day) AS deploy_days,
        count(*) FILTER (WHERE is_failed) AS failed_deployments,
        count(*) FILTER (WHERE is_rework) AS rework_deployments
    FROM deployments
    GROUP BY GROUPING SETS ((period, repo), (period))
),
lead_times AS (
    SELECT
        date_trunc($grain, time_deployed)::DATE AS period,
        repo,
        lead_time_hours,
        held_back,
        pull_request_id IS NOT NULL AS with_pull_request,
        start_source
    FROM published_changes
),
lineage_figures AS (
    -- Shipped changes no lead time counts (silver.deployment_changes.excluded_reason), by kind.
    SELECT
        date_trunc($grain, time_deployed)::DATE AS period,
        coalesce(repo, '*') AS repo,
        count(*) FILTER (WHERE is_bot) AS bot_changes,
        count(*) FILTER (WHERE excluded_reason = 'history before tracking') AS changes_before_tracking
    FROM silver.deployment_changes
    WHERE time_deployed <= $latest_allowed
    GROUP BY GROUPING SETS ((period, repo), (period))
),
lead_time_quantiles AS (
    -- Per repo, then org-wide: two groupings with one list quantile each (median and p90 from
    -- one sort) are faster than GROUPING SETS with the two quantiles apart.
    SELECT
        period,
        repo,
        count(*) AS changes_deployed,
        count(*) FILTER (WHERE held_back) AS lead_times_held_back,
        quantile_cont(lead_time_hours, [0.5, 0.9]) FILTER (WHERE NOT held_back) AS quantiles,
        count(*) FILTER (WHERE with_pull_request) AS changes_with_pull_request,
        count(*) FILTER (WHERE start_source = 'pull_request_branch_pushes') AS lead_time_starts_branch_pushes,
        count(*) FILTER (WHERE start_source = 'pull_request_commits_api') AS lead_time_starts_api,
        count(*) FILTER (WHERE start_source = 'pull_request_opened') AS lead_time_starts_pr_opened
    FROM lead_times
    GROUP BY period, repo
    UNION ALL
    SELECT
        period,
        '*',
        count(*),
        count(*) FILTER (WHERE held_back),
        quantile_cont(lead_time_hours, [0.5, 0.9]) FILTER (WHERE NOT held_back),
        count(*) FILTER (WHERE with_pull_request),
        count(*) FILTER (WHERE start_source = 'pull_request_branch_pushes'),
        count(*) FILTER (WHERE start_source = 'pull_request_commits_api'),
        count(*) FILTER (WHERE start_source = 'pull_request_opened')
    FROM lead_times
    GROUP BY period
),
lead_time_figures AS (
    SELECT
        period,
        repo,
        changes_deployed,
        lead_times_held_back,
        quantiles[1] AS lead_time_median_hours,
        quantiles[2] AS lead_time_p90_hours,
        changes_with_pull_request,
        lead_time_starts_branch_pushes,
        lead_time_starts_api,
        lead_time_starts_pr_opened
    FROM lead_time_quantiles
),
incident_figures AS (
    SELECT
        date_trunc($grain, time_created)::DATE AS period,
        coalesce(repo, '*') AS repo,
        count(*) AS incidents,
        count(time_resolved) AS incidents_resolved,
        count(*) FILTER (WHERE held_back) AS restore_times_held_back,
        median(restore_hours) FILTER (WHERE NOT held_back) AS time_to_restore_median_hours,
        quantile_cont(restore_hours, 0.9) FILTER (WHERE NOT held_back) AS time_to_restore_p90_hours
    FROM published_incidents
    GROUP BY GROUPING SETS ((period, repo), (period))
),
activity AS (
    -- Each table's first and last moment per repo: truncating to periods commutes with min and
    -- max, so the rows are aggregated first and only the extremes are truncated.
    SELECT repo, min(time_deployed) AS first_at, max(time_deployed) AS last_at FROM published_deployments GROUP BY repo
    UNION ALL
    SELECT repo, min(time_created), max(time_created) FROM silver.changes WHERE time_created <= $latest_allowed GROUP BY repo
    UNION ALL
    SELECT repo, min(time_created), max(time_created) FROM published_incidents GROUP BY repo
),
activity_span AS (
    SELECT repo, date_trunc($grain, min(first_at))::DATE AS first_period FROM activity GROUP BY repo
    UNION ALL
    SELECT '*', date_trunc($grain, min(first_at))::DATE FROM activity
),
period_grid AS (
    SELECT span.repo, grid.period::DATE AS period
    FROM activity_span AS span,
         generate_series(
             span.first_period,
             (SELECT date_trunc($grain, max(last_at))::DATE FROM activity),
             CASE $grain WHEN 'week' THEN INTERVAL 7 DAY ELSE INTERVAL 1 MONTH END
         ) AS grid(period)
),
figures AS (
    SELECT
        grid.period,
        grid.repo,
        CASE WHEN grid.repo = '*' THEN '*'
             ELSE coalesce(list_extract($team_names::VARCHAR[], list_position($team_repos::VARCHAR[], lower(grid.repo))), grid.repo)
        END AS team,
        coalesce(d.deployments, 0) AS deployments,
        coalesce(d.deploy_days, 0) AS deploy_days,
        coalesce(d.deployments, 0) * 7.0
            / CASE $grain WHEN 'week' THEN 7 ELSE day(last_day(grid.period)) END AS deployments_per_week,
        coalesce(l.changes_deployed, 0) AS changes_deployed,
        coalesce(l.lead_times_held_back, 0) AS lead_times_held_back,
        l.lead_time_median_hours,
        l.lead_time_p90_hours,
        coalesce(d.failed_deployments, 0) AS failed_deployments,
        CASE WHEN coalesce(d.deployments, 0) > 0 THEN d.failed_deployments / d.deployments END AS change_failure_rate,
        coalesce(d.rework_deployments, 0) AS rework_deployments,
        CASE WHEN coalesce(d.deployments, 0) > 0 THEN d.rework_deployments / d.deployments END AS rework_rate,
        coalesce(i.incidents, 0) AS incidents,
        coalesce(i.incidents_resolved, 0) AS incidents_resolved,
        i.time_to_restore_median_hours,
        i.time_to_restore_p90_hours,
        coalesce(i.restore_times_held_back, 0) AS restore_times_held_back,
        coalesce(l.changes_with_pull_request, 0) AS changes_with_pull_request,
        coalesce(l.lead_time_starts_branch_pushes, 0) AS lead_time_starts_branch_pushes,
        coalesce(l.lead_time_starts_api, 0) AS lead_time_starts_api,
        coalesce(l.lead_time_starts_pr_opened, 0) AS lead_time_starts_pr_opened,
        coalesce(b.bot_changes, 0) AS bot_changes,
        coalesce(b.changes_before_tracking, 0) AS changes_before_tracking
    FROM period_grid AS grid
    LEFT JOIN deployment_figures AS d USING (period, repo)
    LEFT JOIN lead_time_figures AS l USING (period, repo)
    LEFT JOIN lineage_figures AS b USING (period, repo)
    LEFT JOIN incident_figures AS i USING (period, repo)
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
FROM figures;
