-- The organisation's lead time stages over the rolling 30 and 90 days (gold.lead_time_stages), for
-- the asset's metadata and the dashboard's waterfall.
SELECT grain, changes, changes_reviewed, coding_p50_hours, pickup_p50_hours, review_p50_hours, deploy_p50_hours
FROM gold.lead_time_stages
WHERE scope = 'org' AND grain IN ('30d', '90d')
ORDER BY grain;
