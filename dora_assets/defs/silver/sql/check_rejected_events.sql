-- Deliveries of the event types that feed $target_table, received since $since, that its
-- mapping rejected (silver.rejected_events): count, share of the deliveries it read, and the
-- first examples by (source, event_type, reason).
WITH rejected AS (
    SELECT source, event_type, reason, delivery_id
    FROM silver.rejected_events
    WHERE target_table = $target_table AND received_at >= $since
),
by_reason AS (
    SELECT source, event_type, reason, count(*) AS deliveries, list(delivery_id ORDER BY delivery_id)[1:3] AS examples
    FROM rejected
    GROUP BY ALL
),
read AS (
    SELECT count(*) AS deliveries
    FROM bronze.raw_events
    WHERE received_at >= $since AND list_contains($feeding_types, source || ':' || event_type)
)
SELECT
    (SELECT count(*) FROM rejected) AS rejected,
    (SELECT deliveries FROM read) AS read,
    coalesce(
        (SELECT list({'source': source, 'event_type': event_type, 'reason': reason, 'deliveries': deliveries,
                      'examples': examples} ORDER BY deliveries DESC, reason ASC)[1:$max_examples] FROM by_reason),
        []
    ) AS reasons;
