-- gold.dora_monthly: period_figures.sql at $grain 'month' (CONTRACT section 3: one row per
-- (calendar month in UTC, repo) plus org-wide rows with repo '*').
-- Window: months in [$month_start, $month_end).
DELETE FROM gold.dora_monthly WHERE month >= $month_start AND month < $month_end;

INSERT INTO gold.dora_monthly BY NAME
SELECT period AS month, * EXCLUDE (period)
FROM period_figures
WHERE period >= $month_start AND period < $month_end
ORDER BY month, repo;

DROP TABLE period_figures;
