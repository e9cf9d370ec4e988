-- The figures `dora-assets metrics` prints: the last $months months with data, org-wide and per repo.
WITH recent_months AS (
    SELECT DISTINCT month FROM gold.dora_monthly ORDER BY month DESC LIMIT $months
)
SELECT
    strftime(month, '%Y-%m') AS month,
    repo,
    deployments,
    deploy_days,
    round(lead_time_median_hours, 1) AS lead_time_h,
    CASE WHEN change_failure_rate IS NULL THEN NULL ELSE printf('%.1f%%', 100 * change_failure_rate) END AS change_failure,
    incidents_resolved AS restored,
    round(time_to_restore_median_hours, 1) AS restore_h,
    concat_ws('/', left(deployment_frequency_tier, 1), coalesce(left(lead_time_tier, 1), '-'),
              coalesce(left(change_failure_rate_tier, 1), '-'), coalesce(left(time_to_restore_tier, 1), '-')) AS tiers,
    benchmark
FROM gold.dora_monthly
WHERE month IN (SELECT month FROM recent_months)
ORDER BY repo <> '*', repo, month;
