-- silver.incidents from Jira `jira:issue_created`, `jira:issue_updated` and `jira:issue_deleted`:
-- the events of an issue of type $jira_incident_issue_types or with an incident label
-- ($incident_labels), ordered by the event's timestamp; created at fields.created; resolved at
-- fields.resolutiondate, else when the issue moved into a done status (after its last open
-- state), while the latest state is done (a reopen clears the resolution); a deleted issue is no
-- incident; repo = $jira_projects[project key], else the key; root cause from
-- $jira_root_cause_field when set and filled, else the description. Columns:
-- incidents/candidates.sql.
INSERT INTO source_candidates BY NAME
WITH events AS (
    SELECT
        source, event_type, delivery_id, received_at,
        p.issue."key" AS incident_id,
        payload -> '$.issue' AS issue,
        coalesce(
            to_timestamp(try_cast(p."timestamp" AS BIGINT) / 1000),
            silver.event_time(p.issue.fields.updated),
            received_at
        ) AS event_at,
        p.issue.fields.resolutiondate IS NOT NULL
            OR lower(p.issue.fields.status.statusCategory."key") = 'done' AS done
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "timestamp": "VARCHAR",
                "issue": {
                    "key": "VARCHAR",
                    "fields": {
                        "updated": "VARCHAR", "resolutiondate": "VARCHAR",
                        "status": {"statusCategory": {"key": "VARCHAR"}}
                    }
                }
            }') AS p
        FROM (
            SELECT * FROM silver.window_events('jira', 'jira:issue_created')
            UNION ALL SELECT * FROM silver.window_events('jira', 'jira:issue_updated')
            UNION ALL SELECT * FROM silver.window_events('jira', 'jira:issue_deleted')
        )
    )
),
timeline AS (
    SELECT *, max(event_at) FILTER (WHERE NOT done) OVER (PARTITION BY incident_id) AS last_open_at
    FROM events
    WHERE incident_id IS NOT NULL
),
latest AS (
    SELECT
        incident_id,
        arg_max(event_type, (event_at, delivery_id)) AS event_type,
        arg_max(delivery_id, (event_at, delivery_id)) AS delivery_id,
        max(received_at) AS received_at,
        arg_max(issue, (event_at, delivery_id)) AS issue,
        arg_max(done, (event_at, delivery_id)) AS done,
        min(event_at) FILTER (WHERE done AND (last_open_at IS NULL OR event_at > last_open_at)) AS done_since
    FROM timeline
    GROUP BY incident_id
)
SELECT
    'jira' AS source, event_type, delivery_id, received_at,
    coalesce(
        silver.lookup($jira_projects_keys, $jira_projects_values, issue ->> '$.fields.project.key'),
        issue ->> '$.fields.project.key',
        'unknown'
    ) AS repo,
    incident_id,
    issue ->> '$.fields.summary' AS title,
    silver.event_time(issue ->> '$.fields.created') AS time_created,
    CASE WHEN done THEN coalesce(silver.event_time(issue ->> '$.fields.resolutiondate'), done_since) END AS time_resolved,
    coalesce(
        CASE WHEN $jira_root_cause_field <> '' THEN 'root cause: ' || (issue -> '$.fields' ->> $jira_root_cause_field) END,
        issue ->> '$.fields.description'
    ) AS root_cause_text,
    regexp_replace(issue ->> '$.self', '/rest/api/.*$', '') || '/browse/' || incident_id AS url
FROM latest
WHERE event_type <> 'jira:issue_deleted'
  AND (
      list_contains($jira_incident_issue_types, lower(issue ->> '$.fields.issuetype.name'))
      OR len(list_intersect(
          list_transform(coalesce(json_extract_string(issue, '$.fields.labels[*]'), []), LAMBDA label: lower(label)),
          $incident_labels
      )) > 0
  );
