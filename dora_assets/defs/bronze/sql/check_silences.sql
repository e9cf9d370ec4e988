-- Sources (repo '*'), repos (event_type '*') and (source, repo, event_type) keys that went
-- silent, each judged against its own history in delivery_hours (the baseline before $now).
--
-- The traffic model counts active hours (hours with at least one delivery), not deliveries: a
-- release train of 30 pushes in one hour is one active hour, so bursts do not inflate what a
-- quiet hour "should" have held. For every hour of the week, `rate` = -ln(1 - p), where p is the
-- share of the key's weeks in which that hour was active (capped at 0.95): the Poisson rate that
-- would leave the hour empty as often as it was. Days are overdispersed (release trains, days
-- off, quiet weeks): the number of active hours per day varies more than a Poisson count would,
-- so `dispersion` (alpha of a negative binomial, var = mean + alpha * mean^2) is fitted per key by
-- the method of moments to its complete days, around the mean of each weekday, never below
-- $dispersion_floor. The chance that the silent hours of one day, expecting `mu` active hours,
-- are all empty is (1 + alpha * mu) ^ (-1 / alpha); a silence spanning several days multiplies
-- its days' chances. `score` is -ln(chance) of the current silence: the whole hours since the
-- last delivery, the current hour excluded.
--
-- A silence is a gap when its score reaches its check's threshold AND it expects at
-- least $longest_ratio times the active hours of the longest silence the key had in the baseline
-- (`longest_usual`, weighed with today's rates): a key whose own history holds week-long quiet
-- stretches is not flagged for a quiet day, and a busy key's usual weekend does not excuse a
-- silent Tuesday. `quiet_normal` marks silences the model finds unlikely but that the key's own
-- history has matched: quiet, within its normal range. Keys younger than $min_history_hours are
-- not judged.
--
-- event_type_silence judges many keys at once (about five per repo: ~150 for an organisation of
-- 30 repos), and an unlikely silence somewhere among them is far likelier than in one: each event
-- type's threshold is $threshold + ln(event-type keys judged), so the chance that any of them is
-- this silent by chance stays e^-$threshold, however many there are (a Bonferroni correction:
-- with 20 event-type keys, each needs a chance below e^-11). Sources and repos keep $threshold:
-- they are few, and a busy repo silent for a day must still be flagged that day.
WITH spans AS (
    SELECT
        source,
        repo,
        event_type,
        min(hour) AS first_hour,
        max(hour) AS last_hour,
        sum(deliveries) AS deliveries,
        greatest(1.0, epoch(date_trunc('hour', $now::TIMESTAMPTZ) - min(hour)) / (7 * 86400.0)) AS weeks
    FROM delivery_hours
    GROUP BY ALL
),
hourly_rate AS (
    SELECT
        hours.source,
        hours.repo,
        hours.event_type,
        isodow(hours.hour) AS day_of_week,
        hour(hours.hour) AS hour_of_day,
        -ln(1 - least(count(*) / any_value(spans.weeks), 0.95)) AS rate
    FROM delivery_hours AS hours
    JOIN spans USING (source, repo, event_type)
    GROUP BY ALL
),
complete_days AS (
    -- Every complete UTC day of a key's history before today, zeros included; `deliveries` of a
    -- day below are its active hours.
    SELECT spans.source, spans.repo, spans.event_type, days.day::DATE AS day
    FROM spans, generate_series(
        spans.first_hour::DATE::TIMESTAMP + INTERVAL 1 DAY, $now::DATE::TIMESTAMP - INTERVAL 1 DAY, INTERVAL 1 DAY
    ) AS days(day)
),
daily AS (
    SELECT source, repo, event_type, hour::DATE AS day, count(*) AS deliveries  -- active hours
    FROM delivery_hours
    GROUP BY ALL
),
weekday_moments AS (
    SELECT
        complete_days.source,
        complete_days.repo,
        complete_days.event_type,
        count(*) AS samples,
        avg(coalesce(daily.deliveries, 0)) AS mean_deliveries,
        var_samp(coalesce(daily.deliveries, 0)) AS variance
    FROM complete_days
    LEFT JOIN daily USING (source, repo, event_type, day)
    GROUP BY complete_days.source, complete_days.repo, complete_days.event_type, isodow(complete_days.day)
    HAVING count(*) >= 2
),
dispersion AS (
    SELECT
        spans.source,
        spans.repo,
        spans.event_type,
        greatest(
            $dispersion_floor,
            coalesce(
                sum(moments.samples * (moments.variance - moments.mean_deliveries))
                / nullif(sum(moments.samples * moments.mean_deliveries ^ 2), 0),
                0
            )
        ) AS alpha
    FROM spans
    LEFT JOIN weekday_moments AS moments USING (source, repo, event_type)
    GROUP BY ALL
),
active AS (
    SELECT
        source,
        repo,
        event_type,
        hour,
        lead(hour) OVER (PARTITION BY source, repo, event_type ORDER BY hour) AS next_hour
    FROM delivery_hours
),
silences AS (
    -- Every run of silent hours after an active hour; the last one is the current silence.
    SELECT
        source,
        repo,
        event_type,
        hour + INTERVAL 1 HOUR AS silence_start,
        coalesce(next_hour, date_trunc('hour', $now::TIMESTAMPTZ)) - INTERVAL 1 HOUR AS silence_end,
        next_hour IS NULL AS is_current
    FROM active
    WHERE next_hour IS NULL OR next_hour > hour + INTERVAL 1 HOUR
),
silent_hours AS (
    SELECT source, repo, event_type, silence_start, is_current, unnest(
        generate_series(silence_start, silence_end, INTERVAL 1 HOUR)
    ) AS hour
    FROM silences
    WHERE silence_start <= silence_end
),
silent_days AS (
    SELECT
        silent.source,
        silent.repo,
        silent.event_type,
        silent.silence_start,
        silent.is_current,
        silent.hour::DATE AS day,
        count(*) AS hours,
        sum(coalesce(rate.rate, 0)) AS expected
    FROM silent_hours AS silent
    LEFT JOIN hourly_rate AS rate
      ON rate.source = silent.source AND rate.repo = silent.repo AND rate.event_type = silent.event_type
     AND rate.day_of_week = isodow(silent.hour) AND rate.hour_of_day = hour(silent.hour)
    GROUP BY ALL
),
scored AS (
    SELECT
        days.source,
        days.repo,
        days.event_type,
        days.silence_start,
        days.is_current,
        sum(days.hours) AS hours,
        sum(days.expected) AS expected,
        sum(
            CASE WHEN dispersion.alpha > 0 THEN ln(1 + dispersion.alpha * days.expected) / dispersion.alpha
                 ELSE days.expected END
        ) AS score
    FROM silent_days AS days
    JOIN dispersion USING (source, repo, event_type)
    GROUP BY ALL
),
longest AS (
    SELECT source, repo, event_type, max(expected) AS longest_usual, arg_max(hours, expected) AS longest_usual_hours
    FROM scored
    WHERE NOT is_current
    GROUP BY ALL
),
judged AS (
    SELECT
        spans.source,
        spans.repo,
        spans.event_type,
        spans.last_hour + INTERVAL 1 HOUR AS silent_since,
        coalesce(current.hours, 0) AS silent_hours,
        coalesce(current.expected, 0) AS expected,
        coalesce(current.score, 0) AS score,
        coalesce(longest.longest_usual, 0) AS longest_usual,
        coalesce(longest.longest_usual_hours, 0) AS longest_usual_hours,
        dispersion.alpha,
        spans.deliveries AS baseline_deliveries
    FROM spans
    JOIN dispersion USING (source, repo, event_type)
    LEFT JOIN scored AS current
      ON current.source = spans.source AND current.repo = spans.repo AND current.event_type = spans.event_type
     AND current.is_current
    LEFT JOIN longest USING (source, repo, event_type)
    WHERE epoch($now::TIMESTAMPTZ - spans.first_hour) >= $min_history_hours * 3600
),
thresholds AS (
    SELECT
        *,
        CASE
            WHEN repo <> '*' AND event_type <> '*'
                THEN $threshold + ln(count(*) OVER (PARTITION BY repo <> '*' AND event_type <> '*'))
            ELSE $threshold
        END AS key_threshold
    FROM judged
)
SELECT
    source,
    repo,
    event_type,
    silent_since,
    silent_hours,
    round(expected, 2) AS expected_active_hours,
    round(score, 2) AS score,
    round(longest_usual, 2) AS longest_usual_active_hours,
    longest_usual_hours,
    round(alpha, 3) AS dispersion,
    round(key_threshold, 2) AS threshold,
    baseline_deliveries,
    score >= key_threshold AND expected >= $longest_ratio * longest_usual AS is_gap,
    score >= key_threshold AND expected < $longest_ratio * longest_usual AS quiet_normal
FROM thresholds
ORDER BY is_gap DESC, score DESC, source ASC, repo ASC, event_type ASC;
