-- silver.incidents: one row per GitHub issue that carries an incident label, as of the issue's
-- latest known state (the delivery with the latest issue.updated_at). Labels match
-- $incident_labels case-insensitively; time_resolved is closed_at while the issue is closed;
-- root_cause_sha is the hex sha after "root cause:" in the body (case-insensitive, 7-40 chars).
-- Window: incidents whose time_created is in [$window_start, $window_end).
DELETE FROM silver.incidents WHERE time_created >= $window_start AND time_created < $window_end;

INSERT INTO silver.incidents
WITH issue_events AS (
    SELECT
        source,
        silver.github_repo(payload) AS repo,
        payload ->> '$.issue.number' AS incident_id,
        payload ->> '$.action' AS action,
        payload -> '$.issue' AS issue,
        try_cast(payload ->> '$.issue.updated_at' AS TIMESTAMPTZ) AS updated_at,
        received_at,
        delivery_id
    FROM bronze.raw_events
    WHERE source = 'github' AND event_type = 'issues'
),
latest_state AS (
    SELECT *
    FROM issue_events
    WHERE incident_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY repo, incident_id ORDER BY updated_at DESC NULLS LAST, received_at DESC, delivery_id DESC
    ) = 1
),
incidents AS (
    SELECT
        source,
        repo,
        incident_id,
        issue ->> '$.title' AS title,
        try_cast(issue ->> '$.created_at' AS TIMESTAMPTZ) AS time_created,
        CASE WHEN issue ->> '$.state' = 'closed' OR action = 'closed' OR issue ->> '$.state' IS NULL
             THEN try_cast(issue ->> '$.closed_at' AS TIMESTAMPTZ) END AS time_resolved,
        nullif(lower(regexp_extract(issue ->> '$.body', '(?i)root cause:\s*([0-9a-f]{7,40})\b', 1)), '') AS root_cause_sha,
        issue ->> '$.html_url' AS url,
        list_transform(coalesce(json_extract_string(issue, '$.labels[*].name'), []), lambda label: lower(label)) AS labels,
        action
    FROM latest_state
)
SELECT source, repo, incident_id, title, time_created, time_resolved, root_cause_sha, url
FROM incidents
WHERE action IS DISTINCT FROM 'deleted'
  AND len(list_intersect(labels, $incident_labels)) > 0
  AND time_created IS NOT NULL
  AND time_created >= $window_start AND time_created < $window_end;
