-- silver.incidents from GitLab `issue` (bodies recognised by object_kind, whatever the delivery's
-- event type: `Issue Hook`, `Confidential Issue Hook` too): an issue with an incident label
-- ($incident_labels), or of type Incident (GitLab incidents); id is the project-local iid; latest
-- state = latest updated_at; resolved at closed_at while closed; the root cause is searched in
-- the description. Columns: incidents/candidates.sql.
INSERT INTO source_candidates BY NAME
WITH issue_events AS (
    SELECT
        source, event_type, delivery_id, received_at,
        coalesce(p.project.path_with_namespace, 'unknown') AS repo,
        p.object_attributes.iid AS incident_id,
        payload -> '$.object_attributes' AS issue,
        list_transform(
            coalesce(json_extract_string(payload, '$.labels[*].title'), json_extract_string(payload, '$.object_attributes.labels[*].title'), []),
            LAMBDA label: lower(label)
        ) AS labels,
        silver.event_time(p.object_attributes.updated_at) AS updated_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "object_kind": "VARCHAR",
                "object_attributes": {"iid": "VARCHAR", "updated_at": "VARCHAR"},
                "project": {"path_with_namespace": "VARCHAR"}
            }') AS p
        FROM silver.window_source_events('gitlab')
    )
    WHERE p.object_kind = 'issue'
),
latest AS (
    SELECT *
    FROM issue_events
    WHERE incident_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY repo, incident_id ORDER BY updated_at DESC NULLS LAST, received_at DESC, delivery_id DESC
    ) = 1
)
SELECT
    source, event_type, delivery_id, received_at, repo, incident_id,
    issue ->> '$.title' AS title,
    silver.event_time(issue ->> '$.created_at') AS time_created,
    CASE WHEN issue ->> '$.state' = 'closed' THEN silver.event_time(issue ->> '$.closed_at') END AS time_resolved,
    issue ->> '$.description' AS root_cause_text,
    issue ->> '$.url' AS url
FROM latest
WHERE len(list_intersect(labels, $incident_labels)) > 0
   OR lower(issue ->> '$.type') = 'incident'
   OR lower(issue ->> '$.issue_type') = 'incident';
