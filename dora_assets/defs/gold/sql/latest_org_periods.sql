-- The organisation's latest six periods of the table just refreshed (period_figures at $grain),
-- for the asset's materialization metadata, newest first.
SELECT
    strftime(CASE WHEN $grain = 'week' THEN week ELSE month END, '%Y-%m-%d') AS period,
    deployments,
    round(deployments_per_week, 2) AS deployments_per_week,
    round(lead_time_median_hours, 1) AS lead_time_p50_h,
    round(change_failure_rate, 3) AS change_failure_rate,
    round(rework_rate, 3) AS rework_rate,
    round(time_to_restore_median_hours, 1) AS time_to_restore_p50_h
FROM (
    SELECT month, NULL::DATE AS week, * EXCLUDE (month) FROM gold.dora_monthly WHERE $grain = 'month' AND repo = '*'
    UNION ALL BY NAME
    SELECT NULL::DATE AS month, week, * EXCLUDE (week) FROM gold.dora_weekly WHERE $grain = 'week' AND repo = '*'
)
ORDER BY period DESC
LIMIT 6;
