-- The organisation's rolling figures (gold.dora_summary, scope org), for the asset's metadata.
SELECT
    window_days,
    deployments,
    round(deployments_per_week, 2) AS deployments_per_week,
    round(lead_time_median_hours, 1) AS lead_time_p50_h,
    round(lead_time_p90_hours, 1) AS lead_time_p90_h,
    round(change_failure_rate, 3) AS change_failure_rate,
    round(rework_rate, 3) AS rework_rate,
    round(time_to_restore_median_hours, 1) AS time_to_restore_p50_h,
    round(time_to_restore_p90_hours, 1) AS time_to_restore_p90_h
FROM gold.dora_summary
WHERE scope = 'org'
ORDER BY window_days;
