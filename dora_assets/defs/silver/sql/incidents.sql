-- silver.incidents: one row per incident, as of its latest known state, from every source that
-- reports incidents (one "report" per source object), then merged across sources:
--   github issues   an issue carrying an incident label ($incident_labels); created_at, and
--                   closed_at while closed; latest state = latest issue.updated_at.
--   gitlab issue    an issue with an incident label, or of type Incident (GitLab incidents);
--                   id is the project-local iid; latest state = latest updated_at.
--   pagerduty       incident.* events of one incident (event.data.id), ordered by occurred_at,
--                   not by arrival (PagerDuty may deliver resolved before triggered); created
--                   at data.created_at or the first event; resolved at the first resolved event
--                   after the last non-resolved one, while the latest status is resolved (a
--                   reopen clears it); repo = $pagerduty_services[service id or name], else the
--                   service's name.
--   jira            jira:issue_* events of an issue of type $jira_incident_issue_types or with an
--                   incident label; created at fields.created; resolved at fields.resolutiondate,
--                   else when the issue moved into a done status (after its last open state),
--                   while the latest state is done (a reopen clears the resolution); ordered by
--                   the event's timestamp; repo = $jira_projects[project key], else the key;
--                   root cause from $jira_root_cause_field when set and filled, else the description.
-- root_cause_sha is the hex sha after "root cause:" (case-insensitive, 7-40 chars) in the body,
-- description (or title for PagerDuty). Repos pass through $repo_aliases. A deleted issue is no
-- incident. A report without an id or a creation time is rejected to silver.rejected_events.
-- Correlation: reports of different sources in the same repo created within
-- $correlation_window_minutes of each other are one incident; it keeps the report of the source
-- first in $correlation_priority (its id, title, url and resolution time), the earliest creation
-- time, the first known root cause, and lists every merged report in `reports`.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: incidents whose time_created (rejects: received_at) is in [$window_start, $window_end).
-- Reads bronze.raw_events only in the received_at range window_deliveries.sql found.
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
WITH github_issue_events AS (
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
github_latest AS (
    SELECT *
    FROM github_issue_events
    WHERE incident_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY repo, incident_id ORDER BY updated_at DESC NULLS LAST, received_at DESC, delivery_id DESC
    ) = 1
),
github_reports AS (
    SELECT
        source, event_type, delivery_id, received_at, repo, incident_id,
        issue ->> '$.title' AS title,
        silver.event_time(issue ->> '$.created_at') AS time_created,
        CASE WHEN issue ->> '$.state' = 'closed' OR action = 'closed' OR issue ->> '$.state' IS NULL
             THEN silver.event_time(issue ->> '$.closed_at') END AS time_resolved,
        issue ->> '$.body' AS root_cause_text,
        issue ->> '$.html_url' AS url
    FROM github_latest
    WHERE action IS DISTINCT FROM 'deleted'
      AND len(list_intersect(
          list_transform(coalesce(json_extract_string(issue, '$.labels[*].name'), []), lambda label: lower(label)),
          $incident_labels
      )) > 0
),
gitlab_issue_events AS (
    SELECT
        source, event_type, delivery_id, received_at,
        coalesce(p.project.path_with_namespace, 'unknown') AS repo,
        p.object_attributes.iid AS incident_id,
        payload -> '$.object_attributes' AS issue,
        list_transform(
            coalesce(json_extract_string(payload, '$.labels[*].title'), json_extract_string(payload, '$.object_attributes.labels[*].title'), []),
            lambda label: lower(label)
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
gitlab_latest AS (
    SELECT *
    FROM gitlab_issue_events
    WHERE incident_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY repo, incident_id ORDER BY updated_at DESC NULLS LAST, received_at DESC, delivery_id DESC
    ) = 1
),
gitlab_reports AS (
    SELECT
        source, event_type, delivery_id, received_at, repo, incident_id,
        issue ->> '$.title' AS title,
        silver.event_time(issue ->> '$.created_at') AS time_created,
        CASE WHEN issue ->> '$.state' = 'closed' THEN silver.event_time(issue ->> '$.closed_at') END AS time_resolved,
        issue ->> '$.description' AS root_cause_text,
        issue ->> '$.url' AS url
    FROM gitlab_latest
    WHERE len(list_intersect(labels, $incident_labels)) > 0
       OR lower(issue ->> '$.type') = 'incident'
       OR lower(issue ->> '$.issue_type') = 'incident'
),
pagerduty_events AS (
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
pagerduty_timeline AS (
    SELECT
        *,
        max(occurred_at) FILTER (WHERE status IS DISTINCT FROM 'resolved') OVER (PARTITION BY incident_id) AS last_open_at
    FROM pagerduty_events
    WHERE incident_id IS NOT NULL
),
pagerduty_reports AS (
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
    FROM pagerduty_timeline
    GROUP BY incident_id
),
pagerduty_without_id AS (
    SELECT source, event_type, delivery_id, received_at, 'unknown' AS repo
    FROM pagerduty_events
    WHERE incident_id IS NULL
),
jira_events AS (
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
jira_timeline AS (
    SELECT *, max(event_at) FILTER (WHERE NOT done) OVER (PARTITION BY incident_id) AS last_open_at
    FROM jira_events
    WHERE incident_id IS NOT NULL
),
jira_latest AS (
    SELECT
        incident_id,
        arg_max(event_type, (event_at, delivery_id)) AS event_type,
        arg_max(delivery_id, (event_at, delivery_id)) AS delivery_id,
        max(received_at) AS received_at,
        arg_max(issue, (event_at, delivery_id)) AS issue,
        arg_max(done, (event_at, delivery_id)) AS done,
        min(event_at) FILTER (WHERE done AND (last_open_at IS NULL OR event_at > last_open_at)) AS done_since
    FROM jira_timeline
    GROUP BY incident_id
),
jira_reports AS (
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
    FROM jira_latest
    WHERE event_type <> 'jira:issue_deleted'
      AND (
          list_contains($jira_incident_issue_types, lower(issue ->> '$.fields.issuetype.name'))
          OR len(list_intersect(
              list_transform(coalesce(json_extract_string(issue, '$.fields.labels[*]'), []), lambda label: lower(label)),
              $incident_labels
          )) > 0
      )
),
reports AS (
    SELECT * FROM github_reports
    UNION ALL BY NAME SELECT * FROM gitlab_reports
    UNION ALL BY NAME SELECT * FROM pagerduty_reports
    UNION ALL BY NAME SELECT * FROM jira_reports
    UNION ALL BY NAME SELECT * FROM pagerduty_without_id
)
SELECT
    source, event_type, delivery_id, received_at,
    coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo,
    incident_id, title, time_created, time_resolved,
    nullif(lower(regexp_extract(root_cause_text, '(?i)root cause:\s*([0-9a-f]{7,40})\b', 1)), '') AS root_cause_sha,
    url,
    list_position($correlation_priority, source) AS priority,
    CASE
        WHEN incident_id IS NULL THEN 'incident event names no incident id'
        WHEN time_created IS NULL THEN 'incident has no creation time'
    END AS reject_reason
FROM reports;

DELETE FROM silver.incidents WHERE time_created >= $window_start AND time_created < $window_end;

INSERT INTO silver.incidents BY NAME
WITH accepted AS (
    SELECT * FROM mapping_candidates WHERE reject_reason IS NULL
),
nearest_preferred AS (
    -- Each report's best match among reports of a preferred source in the same repo and window.
    SELECT report.source, report.repo, report.incident_id,
           {'source': preferred.source, 'incident_id': preferred.incident_id} AS parent
    FROM accepted AS report
    JOIN accepted AS preferred
      ON preferred.repo = report.repo
     AND preferred.priority < report.priority
     AND abs(epoch(preferred.time_created) - epoch(report.time_created)) <= $correlation_window_minutes * 60
    WHERE $correlation_window_minutes > 0
    QUALIFY row_number() OVER (
        PARTITION BY report.source, report.repo, report.incident_id
        ORDER BY preferred.priority, abs(epoch(preferred.time_created) - epoch(report.time_created)), preferred.incident_id
    ) = 1
),
rooted AS (
    -- Follow parents to the root: a chain is at most one step per source.
    SELECT accepted.*,
           coalesce(p3.parent, p2.parent, p1.parent, {'source': accepted.source, 'incident_id': accepted.incident_id}) AS root
    FROM accepted
    LEFT JOIN nearest_preferred AS p1 USING (source, repo, incident_id)
    LEFT JOIN nearest_preferred AS p2
      ON p2.repo = accepted.repo AND p2.source = p1.parent.source AND p2.incident_id = p1.parent.incident_id
    LEFT JOIN nearest_preferred AS p3
      ON p3.repo = accepted.repo AND p3.source = p2.parent.source AND p3.incident_id = p2.parent.incident_id
),
merged AS (
    SELECT
        repo,
        root,
        min(time_created) AS time_created,
        arg_min(root_cause_sha, (priority, time_created, source, incident_id)) FILTER (WHERE root_cause_sha IS NOT NULL) AS any_root_cause,
        list(source || ':' || incident_id ORDER BY priority, time_created, source, incident_id) AS reports
    FROM rooted
    GROUP BY repo, root
)
SELECT
    primary_report.source,
    primary_report.repo,
    primary_report.incident_id,
    primary_report.title,
    merged.time_created,
    primary_report.time_resolved,
    coalesce(primary_report.root_cause_sha, merged.any_root_cause) AS root_cause_sha,
    primary_report.url,
    merged.reports
FROM merged
JOIN accepted AS primary_report
  ON primary_report.repo = merged.repo
 AND primary_report.source = merged.root.source
 AND primary_report.incident_id = merged.root.incident_id
WHERE merged.time_created >= $window_start AND merged.time_created < $window_end;
