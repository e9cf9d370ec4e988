-- silver.incidents: one row per incident, as of its latest known state, from the reports of every
-- source (defs/silver/sql/incidents/<mapping>.sql, the files dora_assets/sources.py names for
-- incidents: one report per source object), merged across sources.
-- root_cause_sha is the hex sha after "root cause:" (case-insensitive, 7-40 chars) in the
-- report's root_cause_text (the body, description, or title for PagerDuty). Repos pass through
-- $repo_aliases. A report without an id or a creation time is rejected to silver.rejected_events.
-- Correlation: reports of different sources in the same repo created within
-- $correlation_window_minutes of each other are one incident; it keeps the report of the source
-- first in $correlation_priority (its id, title, url and resolution time), the earliest creation
-- time, the first known root cause, and lists every merged report in `reports`.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: incidents whose time_created (rejects: received_at) is in [$window_start, $window_end).
-- The source files read bronze.raw_events only in the received_at range window_deliveries.sql found.
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
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
FROM source_candidates;

DROP TABLE source_candidates;

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
