-- gold.dora_weekly: period_figures.sql at $grain 'week' (ISO weeks, Monday first, UTC).
-- Window: weeks starting in [$month_start, $month_end).
DELETE FROM gold.dora_weekly WHERE week >= $month_start AND week < $month_end;

INSERT INTO gold.dora_weekly BY NAME
SELECT period AS week, * EXCLUDE (period)
FROM period_figures
WHERE period >= $month_start AND period < $month_end
ORDER BY week, repo;

DROP TABLE period_figures;
