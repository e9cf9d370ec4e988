-- silver.incidents from PagerDuty v3 `incident.*` events (every event type starting with
-- "incident."): the events of one incident (event.data.id), ordered by occurred_at, not by
-- arrival (PagerDuty may deliver resolved before triggered); created at data.created_at or the
-- first event; resolved at the first resolved event after the last non-resolved one, while the
-- latest status is resolved (a reopen clears it); repo = $pagerduty_services[service id or
-- name], else the service's name; the root cause is searched in the title. An event naming no
-- incident is a candidate without an id (rejected by incidents.sql). Columns:
-- incidents/candidates.sql.
INSERT INTO source_candidates BY NAME
WITH events AS (
    SELECT
        source, event_type, delivery_id, received_at,
        p.event.data.id AS incident_id,
        payload -> '$.event.data' AS data,
        p.event.data.status AS status,
        coalesce(silver.event_time(p.event.occurred_at), received_at) AS occurred_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "event": {
                    "resource_type": "VARCHAR", "occurred_at": "VARCHAR",
                    "data": {"id": "VARCHAR", "type": "VARCHAR", "status": "VARCHAR"}
                }
            }') AS p
        FROM silver.window_source_events('pagerduty')
        WHERE starts_with(event_type, 'incident.')
    )
    WHERE coalesce(p.event.resource_type, 'incident') = 'incident'
      -- Events about something attached to an incident (a note: incident.annotated; a status
      -- update, a responder) carry that object as data, not the incident: they change nothing here.
      AND coalesce(p.event.data.type, 'incident') = 'incident'
),
timeline AS (
    SELECT
        *,
        max(occurred_at) FILTER (WHERE status IS DISTINCT FROM 'resolved') OVER (PARTITION BY incident_id) AS last_open_at
    FROM events
    WHERE incident_id IS NOT NULL
),
reports AS (
    SELECT
        'pagerduty' AS source,
        arg_max(event_type, (occurred_at, delivery_id)) AS event_type,
        arg_max(delivery_id, (occurred_at, delivery_id)) AS delivery_id,
        max(received_at) AS received_at,
        coalesce(
            silver.lookup($pagerduty_services_keys, $pagerduty_services_values, arg_max(data ->> '$.service.id', (occurred_at, delivery_id))),
            silver.lookup($pagerduty_services_keys, $pagerduty_services_values, arg_max(data ->> '$.service.summary', (occurred_at, delivery_id))),
            arg_max(data ->> '$.service.summary', (occurred_at, delivery_id)),
            'unknown'
        ) AS repo,
        incident_id,
        arg_max(data ->> '$.title', (occurred_at, delivery_id)) AS title,
        least(min(silver.event_time(data ->> '$.created_at')), min(occurred_at)) AS time_created,
        CASE WHEN arg_max(status, (occurred_at, delivery_id)) = 'resolved'
             THEN min(occurred_at) FILTER (WHERE status = 'resolved' AND (last_open_at IS NULL OR occurred_at > last_open_at))
        END AS time_resolved,
        arg_max(data ->> '$.title', (occurred_at, delivery_id)) AS root_cause_text,
        arg_max(data ->> '$.html_url', (occurred_at, delivery_id)) AS url
    FROM timeline
    GROUP BY incident_id
),
without_id AS (
    SELECT source, event_type, delivery_id, received_at, 'unknown' AS repo
    FROM events
    WHERE incident_id IS NULL
)
-- UNION ALL BY NAME matches the two sides' columns by name (sqlfluff's AM07 counts them).
SELECT * FROM reports -- noqa: AM07
UNION ALL BY NAME SELECT * FROM without_id;
