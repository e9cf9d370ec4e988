-- gold.lead_time_stages: where the lead time of the changes that merged a pull request went
-- (README: "Where the time goes"), per period and scope: calendar months and ISO weeks of
-- time_deployed (grain 'month', 'week'; period_start their first day), and rolling windows of 30
-- and 90 days ending at $as_of (grain '30d', '90d'; period_start the window's first day); for the
-- organisation (scope 'org', name '*'), each team (config teams; a repo without a team is its own
-- team) and each repo. Over the lead times gold publishes (gold.published_lead_times: counted,
-- not held back) of changes with a pull request (silver.deployment_changes.time_opened), hours:
--   coding  lead_time_start (the request's first commit) -> opened; 0 when it starts at the opening
--   pickup  opened -> first review or comment by someone other than the author (NULL without one)
--   review  first review (else the opening) -> merged
--   deploy  merged -> deployed to production
-- Replaced whole at every refresh.
DELETE FROM gold.lead_time_stages;

INSERT INTO gold.lead_time_stages BY NAME
WITH staged AS (
    SELECT
        repo,
        coalesce(list_extract($team_names::VARCHAR[], list_position($team_repos::VARCHAR[], lower(repo))), repo) AS team,
        time_deployed,
        greatest(epoch(time_opened - lead_time_start), 0) / 3600.0 AS coding_hours,
        epoch(time_first_review - time_opened) / 3600.0 AS pickup_hours,
        epoch(time_merged - coalesce(time_first_review, time_opened)) / 3600.0 AS review_hours,
        epoch(time_deployed - time_merged) / 3600.0 AS deploy_hours
    FROM gold.published_lead_times($latest_allowed, $skew_hours, $exclude_lead_time_outliers, $lead_time_outlier_hours)
    WHERE time_opened IS NOT NULL AND time_merged IS NOT NULL AND NOT held_back
),
periods AS (
    SELECT 'month' AS grain, date_trunc('month', time_deployed)::DATE AS period_start, * FROM staged
    UNION ALL
    SELECT 'week', date_trunc('week', time_deployed)::DATE, * FROM staged
    UNION ALL
    SELECT days || 'd', ($as_of - to_days(days))::DATE, staged.*
    FROM staged, (VALUES (30), (90)) AS w(days)
    WHERE time_deployed > $as_of - to_days(days) AND time_deployed <= $as_of
),
scoped AS (
    SELECT 'org' AS scope, '*' AS name, * FROM periods
    UNION ALL
    SELECT 'team', team, * FROM periods
    UNION ALL
    SELECT 'repo', repo, * FROM periods
),
quantiles AS (
    SELECT
        grain,
        period_start,
        scope,
        name,
        count(*) AS changes,
        count(pickup_hours) AS changes_reviewed,
        quantile_cont(coding_hours, [0.5, 0.9]) AS coding,
        quantile_cont(pickup_hours, [0.5, 0.9]) AS pickup,
        quantile_cont(review_hours, [0.5, 0.9]) AS review,
        quantile_cont(deploy_hours, [0.5, 0.9]) AS deploy
    FROM scoped
    GROUP BY ALL
)
SELECT
    grain,
    period_start,
    scope,
    name,
    changes,
    changes_reviewed,
    coding[1] AS coding_p50_hours,
    coding[2] AS coding_p90_hours,
    pickup[1] AS pickup_p50_hours,
    pickup[2] AS pickup_p90_hours,
    review[1] AS review_p50_hours,
    review[2] AS review_p90_hours,
    deploy[1] AS deploy_p50_hours,
    deploy[2] AS deploy_p90_hours
FROM quantiles
ORDER BY grain, period_start, scope, name;
