-- Resolved incidents with an implausible time to restore, over all of silver.incidents: resolved
-- before created beyond the clock-skew tolerance ($tolerance_hours: wrong, held back from gold's
-- figures), or open longer than $outlier_hours (unusual, kept unless the config excludes it).
-- One summary row: counts, the most extreme examples of each kind, the repos and months concerned.
WITH restore_times AS (
    SELECT source, repo, incident_id, time_created, epoch(time_resolved - time_created) / 3600.0 AS hours
    FROM silver.incidents
    WHERE time_resolved IS NOT NULL
)
SELECT
    count(*) AS judged,
    count(*) FILTER (WHERE hours < -$tolerance_hours) AS negative,
    count(*) FILTER (WHERE hours > $outlier_hours) AS outliers,
    coalesce(list(repo || '#' || incident_id || ' (' || source || '): ' || round(hours, 1) || ' h' ORDER BY hours)
        FILTER (WHERE hours < -$tolerance_hours), [])[1:$max_examples] AS negative_examples,
    coalesce(list(repo || '#' || incident_id || ' (' || source || '): ' || round(hours / 24, 1) || ' days'
        ORDER BY hours DESC) FILTER (WHERE hours > $outlier_hours), [])[1:$max_examples] AS outlier_examples,
    coalesce(list(DISTINCT repo ORDER BY repo) FILTER (WHERE hours < -$tolerance_hours OR hours > $outlier_hours), [])
        [1:$max_examples] AS repos,
    coalesce(list(DISTINCT strftime(time_created, '%Y-%m') ORDER BY strftime(time_created, '%Y-%m'))
        FILTER (WHERE hours < -$tolerance_hours OR hours > $outlier_hours), [])[1:$max_examples] AS months
FROM restore_times;
