-- Complete UTC days in [$judged_from, $today) on which a source (repo '*') or a repo received
-- far fewer deliveries than its own rhythm predicts: below $drop_ratio of the mean of the same
-- weekday over the baseline before the judged days, AND below every one of those baseline days
-- (so a repo whose quiet days are normal is never flagged). Days expecting fewer than
-- $min_expected deliveries, listed holidays, and keys with fewer than 4 baseline days of that
-- weekday are not judged. `org_quiet` marks days on which at least $org_quiet_share of the
-- judged repos (at least 3) dropped together while their source still delivered something: a
-- holiday, not a broken webhook (a source that delivered nothing at all is an outage).
WITH daily AS (
    SELECT source, repo, hour::DATE AS day, sum(deliveries) AS deliveries
    FROM delivery_hours
    GROUP BY ALL
),
keys AS (
    SELECT source, repo, min(day) AS first_day FROM daily GROUP BY ALL
),
judged_days AS (
    SELECT keys.source, keys.repo, days.day::DATE AS day
    FROM keys, generate_series($judged_from::TIMESTAMP, $today::TIMESTAMP - INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)
    WHERE days.day::DATE > keys.first_day AND NOT list_contains($holidays::DATE[], days.day::DATE)
),
baseline_days AS (
    -- Every day from a key's first day to the day before the judged window, zeros included.
    SELECT keys.source, keys.repo, days.day::DATE AS day
    FROM keys, generate_series(keys.first_day::TIMESTAMP, $judged_from::TIMESTAMP - INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)
    WHERE NOT list_contains($holidays::DATE[], days.day::DATE)
),
baseline AS (
    SELECT
        baseline_days.source,
        baseline_days.repo,
        isodow(baseline_days.day) AS day_of_week,
        count(*) AS samples,
        avg(coalesce(daily.deliveries, 0)) AS mean_deliveries,
        min(coalesce(daily.deliveries, 0)) AS lowest_deliveries
    FROM baseline_days
    LEFT JOIN daily
      ON daily.source = baseline_days.source AND daily.repo = baseline_days.repo AND daily.day = baseline_days.day
    GROUP BY ALL
),
judged AS (
    SELECT
        judged_days.source,
        judged_days.repo,
        judged_days.day,
        coalesce(daily.deliveries, 0) AS deliveries,
        round(baseline.mean_deliveries, 1) AS expected,
        baseline.mean_deliveries,
        baseline.lowest_deliveries,
        coalesce(daily.deliveries, 0) < $drop_ratio * baseline.mean_deliveries
            AND coalesce(daily.deliveries, 0) < baseline.lowest_deliveries AS dropped
    FROM judged_days
    JOIN baseline
      ON baseline.source = judged_days.source AND baseline.repo = judged_days.repo
     AND baseline.day_of_week = isodow(judged_days.day)
    LEFT JOIN daily
      ON daily.source = judged_days.source AND daily.repo = judged_days.repo AND daily.day = judged_days.day
    WHERE baseline.samples >= 4 AND baseline.mean_deliveries >= $min_expected
),
org_days AS (
    SELECT
        source,
        day,
        count(*) FILTER (WHERE dropped) / count(*) AS dropped_share,
        count(*) AS judged_repos,
        (SELECT sum(deliveries) FROM daily WHERE daily.source = judged.source AND daily.day = judged.day AND daily.repo = '*')
            AS source_deliveries
    FROM judged
    WHERE repo <> '*'
    GROUP BY ALL
)
SELECT
    judged.*,
    coalesce(
        org_days.judged_repos >= 3 AND org_days.dropped_share >= $org_quiet_share AND org_days.source_deliveries > 0,
        FALSE
    ) AS org_quiet
FROM judged
LEFT JOIN org_days USING (source, day)
WHERE judged.dropped
ORDER BY judged.day, judged.source, judged.repo;
