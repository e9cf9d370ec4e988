-- The dashboard's tiles: the organisation's rolling windows (gold.dora_summary, scope org).
SELECT * FROM gold.dora_summary WHERE scope = 'org' ORDER BY window_days;
