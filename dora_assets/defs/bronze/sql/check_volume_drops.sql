-- Complete UTC days in [$judged_from, $today) on which a key (a source: repo '*'; a repo:
-- event_type '*'; or one event type of a repo) received far fewer deliveries than its own
-- rhythm predicts. The baseline is every day of the key from its first day to the day before
-- the judged window, zeros included. Per weekday it gives the mean (`mean_deliveries`) and the
-- lowest day; over all days, the key's overdispersion `dispersion` (alpha of a negative binomial:
-- var = mean + alpha * mean^2, fitted by the method of moments around each weekday's mean).
-- Returned are the judged days below $drop_ratio of their weekday's mean; `below_lowest` says
-- whether the day is also below every baseline day of that weekday. The caller computes the
-- chance of so few deliveries from the negative binomial. Days expecting fewer than
-- $min_expected deliveries, listed holidays, and keys with fewer than 4 baseline days of that
-- weekday are not judged. `org_quiet` marks days on which at least $org_quiet_share of the
-- judged repos (at least 3) dropped together while their source still delivered something: a
-- holiday, not a broken webhook (a source that delivered nothing at all is an outage).
WITH daily AS (
    SELECT source, repo, event_type, hour::DATE AS day, sum(deliveries) AS deliveries
    FROM delivery_hours
    GROUP BY ALL
),
keys AS (
    SELECT source, repo, event_type, min(day) AS first_day FROM daily GROUP BY ALL
),
judged_days AS (
    SELECT keys.source, keys.repo, keys.event_type, days.day::DATE AS day
    FROM keys, generate_series($judged_from::TIMESTAMP, $today::TIMESTAMP - INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)
    WHERE days.day::DATE > keys.first_day AND NOT list_contains($holidays::DATE[], days.day::DATE)
),
baseline_days AS (
    SELECT keys.source, keys.repo, keys.event_type, days.day::DATE AS day
    FROM keys, generate_series(keys.first_day::TIMESTAMP, $judged_from::TIMESTAMP - INTERVAL 1 DAY, INTERVAL 1 DAY) AS days(day)
    WHERE NOT list_contains($holidays::DATE[], days.day::DATE)
),
baseline AS (
    SELECT
        baseline_days.source,
        baseline_days.repo,
        baseline_days.event_type,
        isodow(baseline_days.day) AS day_of_week,
        count(*) AS samples,
        avg(coalesce(daily.deliveries, 0)) AS mean_deliveries,
        var_samp(coalesce(daily.deliveries, 0)) AS variance,
        min(coalesce(daily.deliveries, 0)) AS lowest_deliveries
    FROM baseline_days
    LEFT JOIN daily USING (source, repo, event_type, day)
    GROUP BY ALL
),
dispersion AS (
    SELECT
        source,
        repo,
        event_type,
        greatest(
            $dispersion_floor,
            coalesce(
                sum(samples * (variance - mean_deliveries)) FILTER (WHERE samples >= 2)
                / nullif(sum(samples * mean_deliveries ^ 2) FILTER (WHERE samples >= 2), 0),
                0
            )
        ) AS alpha
    FROM baseline
    GROUP BY ALL
),
judged AS (
    SELECT
        judged_days.source,
        judged_days.repo,
        judged_days.event_type,
        judged_days.day,
        coalesce(daily.deliveries, 0) AS deliveries,
        round(baseline.mean_deliveries, 1) AS expected,
        baseline.mean_deliveries,
        baseline.lowest_deliveries,
        dispersion.alpha AS dispersion,
        coalesce(daily.deliveries, 0) < baseline.lowest_deliveries AS below_lowest,
        coalesce(daily.deliveries, 0) < $drop_ratio * baseline.mean_deliveries AS dropped
    FROM judged_days
    JOIN baseline
      ON baseline.source = judged_days.source AND baseline.repo = judged_days.repo
     AND baseline.event_type = judged_days.event_type AND baseline.day_of_week = isodow(judged_days.day)
    JOIN dispersion
      ON dispersion.source = judged_days.source AND dispersion.repo = judged_days.repo
     AND dispersion.event_type = judged_days.event_type
    LEFT JOIN daily
      ON daily.source = judged_days.source AND daily.repo = judged_days.repo
     AND daily.event_type = judged_days.event_type AND daily.day = judged_days.day
    WHERE baseline.samples >= 4 AND baseline.mean_deliveries >= $min_expected
),
org_days AS (
    SELECT
        source,
        day,
        count(*) FILTER (WHERE dropped AND below_lowest) / count(*) AS dropped_share,
        count(*) AS judged_repos,
        (
            SELECT sum(deliveries) FROM daily
            WHERE daily.source = judged.source AND daily.day = judged.day AND daily.repo = '*'
        ) AS source_deliveries
    FROM judged
    WHERE repo <> '*' AND event_type = '*'
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
ORDER BY judged.day, judged.source, judged.repo, judged.event_type;
