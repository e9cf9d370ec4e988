-- (deployment, change) pairs with an impossible lead time: the change was created after the
-- deployment by more than the clock-skew tolerance, or more than $max_lead_time_hours before it.
SELECT
    count(*) AS affected,
    count(*) FILTER (WHERE lead_time_hours < -$tolerance_hours) AS negative,
    count(*) FILTER (WHERE lead_time_hours > $max_lead_time_hours) AS absurd,
    list(deploy_id || '/' || change_id || ': ' || round(lead_time_hours, 1) || ' h' ORDER BY abs(lead_time_hours) DESC)[1:$max_examples] AS examples,
    list(DISTINCT repo ORDER BY repo)[1:$max_examples] AS repos,
    list(DISTINCT time_deployed::DATE ORDER BY time_deployed::DATE)[1:$max_examples] AS days
FROM silver.deployment_changes
WHERE lead_time_hours < -$tolerance_hours OR lead_time_hours > $max_lead_time_hours;
