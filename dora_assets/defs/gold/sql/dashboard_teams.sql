-- The dashboard's team table: every team's last 90 days (gold.dora_summary, scope team).
SELECT * FROM gold.dora_summary WHERE scope = 'team' AND window_days = 90 ORDER BY deployments DESC, name ASC;
