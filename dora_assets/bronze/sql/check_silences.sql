-- Sources (repo '*') and repos that went silent. Each one's rhythm is learned from its own
-- history in delivery_hours: for every hour of the week, the share of weeks in which that hour
-- saw a delivery. The hours since the last delivery (whole hours, the current one excluded)
-- would normally have held `expected_active_hours` active hours; a silence is a gap when that
-- reaches $threshold (P(all silent) <= e^-threshold). Sources and repos younger than
-- $min_history_hours are not judged.
WITH spans AS (
    SELECT source, repo, min(hour) AS first_hour, max(hour) AS last_hour, sum(deliveries) AS deliveries
    FROM delivery_hours
    GROUP BY ALL
),
weekly_profile AS (
    SELECT
        hours.source,
        hours.repo,
        isodow(hours.hour) AS day_of_week,
        hour(hours.hour) AS hour_of_day,
        count(*) / greatest(1.0, epoch($now - any_value(spans.first_hour)) / (7 * 86400.0)) AS active_share
    FROM delivery_hours AS hours
    JOIN spans USING (source, repo)
    GROUP BY ALL
),
silent_hours AS (
    SELECT source, repo, unnest(
        generate_series(last_hour + INTERVAL 1 HOUR, date_trunc('hour', $now) - INTERVAL 1 HOUR, INTERVAL 1 HOUR)
    ) AS hour
    FROM spans
),
expected AS (
    SELECT silent.source, silent.repo, count(*) AS silent_hours, sum(coalesce(profile.active_share, 0)) AS expected
    FROM silent_hours AS silent
    LEFT JOIN weekly_profile AS profile
      ON profile.source = silent.source AND profile.repo = silent.repo
     AND profile.day_of_week = isodow(silent.hour) AND profile.hour_of_day = hour(silent.hour)
    GROUP BY ALL
)
SELECT
    spans.source,
    spans.repo,
    spans.last_hour + INTERVAL 1 HOUR AS silent_since,
    coalesce(expected.silent_hours, 0) AS silent_hours,
    round(coalesce(expected.expected, 0), 2) AS expected_active_hours,
    spans.deliveries AS baseline_deliveries,
    coalesce(expected.expected, 0) >= $threshold AS is_gap
FROM spans
LEFT JOIN expected USING (source, repo)
WHERE epoch($now - spans.first_hour) >= $min_history_hours * 3600
ORDER BY is_gap DESC, expected_active_hours DESC, spans.source, spans.repo;
