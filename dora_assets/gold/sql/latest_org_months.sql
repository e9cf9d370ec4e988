-- The organisation's last six months, for the asset's materialization metadata.
SELECT
    strftime(month, '%Y-%m') AS month,
    deployments,
    round(lead_time_median_hours, 1) AS lead_time_h,
    round(change_failure_rate, 3) AS cfr,
    round(time_to_restore_median_hours, 1) AS ttr_h,
    deployment_frequency_tier AS df_tier
FROM gold.dora_monthly
WHERE repo = '*'
ORDER BY month DESC
LIMIT 6;
