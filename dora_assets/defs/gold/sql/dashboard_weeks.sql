-- The dashboard's trends: the organisation's last $weeks weeks (gold.dora_weekly, repo '*'), oldest first.
SELECT * FROM (SELECT * FROM gold.dora_weekly WHERE repo = '*' ORDER BY week DESC LIMIT $weeks) ORDER BY week;
