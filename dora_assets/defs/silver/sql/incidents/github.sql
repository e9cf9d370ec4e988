-- silver.incidents from GitHub `issues` (and the API extractor's `api:issues`): an issue whose
-- latest state (latest issue.updated_at) carries an incident label ($incident_labels); created
-- at created_at, resolved at closed_at while closed; a deleted issue is no incident; the root
-- cause is searched in the body. Columns: incidents/candidates.sql.
INSERT INTO source_candidates BY NAME
WITH issue_events AS (
    -- Each payload is parsed once for its scalar fields (json_transform; a field's text as ->>
    -- gives it) and once for the issue document.
    SELECT
        source, event_type, delivery_id, received_at,
        silver.github_repo(p) AS repo,
        p.issue."number" AS incident_id,
        p.action AS action,
        issue,
        silver.event_time(p.issue.updated_at) AS updated_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "action": "VARCHAR",
                "issue": {"number": "VARCHAR", "updated_at": "VARCHAR"},
                "repository": {"full_name": "VARCHAR", "name": "VARCHAR"}
            }') AS p,
            payload -> '$.issue' AS issue
        FROM (
            SELECT * FROM silver.window_events('github', 'issues')
            UNION ALL SELECT * FROM silver.window_events('github', 'api:issues')
        )
    )
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
    CASE WHEN issue ->> '$.state' = 'closed' OR action = 'closed' OR issue ->> '$.state' IS NULL
         THEN silver.event_time(issue ->> '$.closed_at') END AS time_resolved,
    issue ->> '$.body' AS root_cause_text,
    issue ->> '$.html_url' AS url
FROM latest
WHERE action IS DISTINCT FROM 'deleted'
  AND len(list_intersect(
      list_transform(coalesce(json_extract_string(issue, '$.labels[*].name'), []), LAMBDA label: lower(label)),
      $incident_labels
  )) > 0;
