-- (deployment, change) pairs with an implausible lead time, counted over all of
-- silver.deployment_changes: negative beyond the clock-skew tolerance ($tolerance_hours; the
-- change cannot postdate the deployment that shipped it: wrong, held back from gold's figures),
-- or longer than $outlier_hours (a long-lived branch: unusual, kept unless the config excludes it).
-- One summary row: counts, the most extreme examples of each kind, the repos and months concerned.
SELECT
    count(*) AS judged,
    count(*) FILTER (WHERE lead_time_hours < -$tolerance_hours) AS negative,
    count(*) FILTER (WHERE lead_time_hours > $outlier_hours) AS outliers,
    coalesce(list(repo || ' ' || deploy_id || '/' || change_id || ': ' || round(lead_time_hours, 1) || ' h'
        ORDER BY lead_time_hours) FILTER (WHERE lead_time_hours < -$tolerance_hours), [])[1:$max_examples]
        AS negative_examples,
    coalesce(list(repo || ' ' || deploy_id || '/' || change_id || ': ' || round(lead_time_hours / 24, 1) || ' days'
        ORDER BY lead_time_hours DESC) FILTER (WHERE lead_time_hours > $outlier_hours), [])[1:$max_examples]
        AS outlier_examples,
    coalesce(list(DISTINCT repo ORDER BY repo)
        FILTER (WHERE lead_time_hours < -$tolerance_hours OR lead_time_hours > $outlier_hours), [])[1:$max_examples]
        AS repos,
    coalesce(list(DISTINCT strftime(time_deployed, '%Y-%m') ORDER BY strftime(time_deployed, '%Y-%m'))
        FILTER (WHERE lead_time_hours < -$tolerance_hours OR lead_time_hours > $outlier_hours), [])[1:$max_examples]
        AS months
FROM silver.deployment_changes;
