-- The figures of the bare DuckDB references, after bare.sql or bare_typed.sql has read the
-- landing files into the temp table deliveries (envelope fields and a typed payload struct):
-- gold.dora_monthly's figures with the GitHub semantics of silver (deployments, changes,
-- deployment_changes, incidents) and gold, in DuckDB alone (README "Lead time": ancestry, as it
-- reads on linear branches; pull requests' starts and merges; bots apart).
CREATE TEMP TABLE pushes AS
SELECT
    coalesce(payload.repository.full_name, payload.repository.name, 'unknown') AS repo,
    payload.ref AS ref,
    CASE WHEN starts_with(payload.ref, 'refs/heads/') THEN substr(payload.ref, 12) END AS branch,
    lower(coalesce(payload."after", payload.head_commit.id)) AS after_sha,
    -- A push that creates its branch (before 000...0) starts a new line of history on it.
    coalesce(regexp_full_match(payload."before", '0+'), FALSE) AS starts_history,
    coalesce(
        to_timestamp(try_cast(payload.repository.pushed_at AS BIGINT)),
        try_cast(payload.head_commit."timestamp" AS TIMESTAMPTZ),
        received_at
    ) AS pushed_at,
    list_transform(
        coalesce(payload.commits, []),
        LAMBDA c: {'change_id': lower(c.id), 'time_created': try_cast(c."timestamp" AS TIMESTAMPTZ)}
    ) AS commits,
    delivery_id
FROM deliveries
WHERE source = 'github' AND event_type = 'push' AND coalesce(payload."after", payload.head_commit.id) IS NOT NULL;

CREATE TEMP TABLE changes AS
SELECT repo, c.change_id, min(c.time_created) AS time_created
FROM pushes, unnest(pushes.commits) AS carried(c)
WHERE c.change_id IS NOT NULL AND c.time_created IS NOT NULL
GROUP BY repo, c.change_id;

CREATE TEMP TABLE deployments AS
WITH successes AS (
    SELECT
        coalesce(payload.repository.full_name, payload.repository.name, 'unknown') AS repo,
        coalesce(payload.deployment.id, payload.deployment_status.id, delivery_id) AS deploy_id,
        lower(payload.deployment.sha) AS commit_sha,
        payload.deployment.ref AS ref,
        coalesce(
            try_cast(payload.deployment_status.created_at AS TIMESTAMPTZ),
            try_cast(payload.deployment_status.updated_at AS TIMESTAMPTZ),
            received_at
        ) AS time_deployed
    FROM deliveries
    WHERE source = 'github' AND event_type = 'deployment_status'
      AND lower(payload.deployment_status.state) = 'success'
      AND (coalesce(payload.deployment.environment, payload.deployment_status.environment) IS NULL
           OR lower(coalesce(payload.deployment.environment, payload.deployment_status.environment))
              IN ('production', 'prod'))
      AND regexp_full_match(lower(payload.deployment.sha), '[0-9a-f]{7,40}')
)
SELECT deploy_id, arg_min(repo, time_deployed) AS repo, arg_min(commit_sha, time_deployed) AS commit_sha,
       arg_min(ref, time_deployed) AS ref, min(time_deployed) AS time_deployed
FROM successes
GROUP BY deploy_id;

-- Lineage by ancestry on the benchmark's histories, whose branches are linear (each push's before
-- is the branch's previous after): a deployment ships the pushes of its branch up to the one of
-- its commit, back to the push that (re)created the branch, that no earlier deployment shipped.
CREATE TEMP TABLE shipped AS
WITH branch_pushes AS (
    SELECT *, coalesce(branch, '') AS branch_key,
           row_number() OVER (PARTITION BY repo, coalesce(branch, '') ORDER BY pushed_at, delivery_id) AS push_position,
           sum(starts_history::INTEGER) OVER (
               PARTITION BY repo, coalesce(branch, '') ORDER BY pushed_at, delivery_id ROWS UNBOUNDED PRECEDING
           ) AS line
    FROM pushes
    WHERE branch IS NOT NULL OR ref IS NULL
),
positions AS (
    SELECT d.deploy_id, d.repo, p.branch_key, p.line, d.time_deployed, min(p.push_position) AS shipped_up_to
    FROM deployments AS d
    JOIN branch_pushes AS p
      ON p.repo = d.repo
     AND p.branch_key = CASE WHEN starts_with(d.ref, 'refs/heads/') THEN substr(d.ref, 12) ELSE coalesce(d.ref, '') END
     AND p.after_sha = d.commit_sha
    GROUP BY ALL
),
earliest AS (
    SELECT repo, branch_key, line, shipped_up_to, min({'time_deployed': time_deployed, 'deploy_id': deploy_id}) AS shipper
    FROM positions GROUP BY ALL
),
first_from AS (
    SELECT repo, branch_key, line, shipped_up_to,
           min(shipper) OVER (PARTITION BY repo, branch_key, line ORDER BY shipped_up_to DESC ROWS UNBOUNDED PRECEDING)
               AS shipper
    FROM earliest
),
push_shippers AS (
    SELECT p.repo, p.commits, s.shipper
    FROM branch_pushes AS p
    ASOF JOIN first_from AS s
      ON s.repo = p.repo AND s.branch_key = p.branch_key AND s.line = p.line AND s.shipped_up_to >= p.push_position
),
change_shippers AS (
    SELECT ps.repo, c.change_id, min(ps.shipper) AS shipper
    FROM push_shippers AS ps, unnest(ps.commits) AS carried(c)
    WHERE c.change_id IS NOT NULL
    GROUP BY ALL
)
SELECT cs.shipper.deploy_id AS deploy_id, cs.change_id, cs.repo, ch.time_created,
       cs.shipper.time_deployed AS time_deployed
FROM change_shippers AS cs
JOIN changes AS ch USING (repo, change_id);

-- Merged pull requests (their latest closed, merged delivery): a merge or squash commit's lead time
-- starts at the request's first commit pushed to its head branch (after the branch's previous
-- merge), else at its opening; its branch's commits shipped with it are one change with it.
CREATE TEMP TABLE requests AS
WITH merged AS (
    SELECT
        coalesce(payload.repository.full_name, payload.repository.name, 'unknown') AS repo,
        payload.pull_request."number" AS pull_request_id,
        payload.pull_request.head.ref AS head_branch,
        try_cast(payload.pull_request.created_at AS TIMESTAMPTZ) AS time_opened,
        try_cast(payload.pull_request.merged_at AS TIMESTAMPTZ) AS time_merged,
        lower(payload.pull_request.merge_commit_sha) AS merge_sha,
        payload.pull_request."user".login AS author
    FROM deliveries
    WHERE source = 'github' AND event_type = 'pull_request' AND payload.action = 'closed' AND payload.pull_request.merged
    QUALIFY row_number() OVER (
        PARTITION BY repo, pull_request_id
        ORDER BY try_cast(payload.pull_request.updated_at AS TIMESTAMPTZ) DESC NULLS LAST, delivery_id DESC
    ) = 1
)
SELECT *, lag(time_merged) OVER (PARTITION BY repo, head_branch ORDER BY time_merged, pull_request_id) AS previous_merge
FROM merged
WHERE merge_sha IS NOT NULL AND time_merged IS NOT NULL;

CREATE TEMP TABLE deployment_changes AS
WITH request_commits AS (
    SELECT r.repo, r.merge_sha, c.change_id, c.time_created
    FROM requests AS r
    JOIN pushes AS p
      ON p.repo = r.repo AND p.branch = r.head_branch AND p.pushed_at <= r.time_merged
     AND (r.previous_merge IS NULL OR p.pushed_at > r.previous_merge),
    unnest(p.commits) AS carried(c)
),
starts AS (
    SELECT r.repo, r.merge_sha AS change_id, coalesce(min(rc.time_created), any_value(r.time_opened)) AS request_start,
           any_value(regexp_matches(lower(r.author), '(\[bot\]$|^dependabot|^renovate)')) AS by_bot
    FROM requests AS r
    LEFT JOIN request_commits AS rc ON rc.repo = r.repo AND rc.merge_sha = r.merge_sha
    GROUP BY ALL
),
members AS (
    SELECT DISTINCT s.repo, s.change_id
    FROM shipped AS merge
    JOIN request_commits AS rc ON rc.repo = merge.repo AND rc.merge_sha = merge.change_id
    JOIN shipped AS s ON s.repo = rc.repo AND s.change_id = rc.change_id AND s.deploy_id = merge.deploy_id
    WHERE s.change_id <> merge.change_id
)
SELECT shipped.deploy_id, shipped.change_id, shipped.repo, shipped.time_created, shipped.time_deployed,
       epoch(shipped.time_deployed - least(shipped.time_created, coalesce(starts.request_start, shipped.time_created)))
           / 3600.0 AS lead_time_hours,
       members.change_id IS NOT NULL OR coalesce(starts.by_bot, FALSE) AS excluded
FROM shipped
LEFT JOIN starts USING (repo, change_id)
LEFT JOIN members USING (repo, change_id);

CREATE TEMP TABLE incidents AS
WITH latest AS (
    SELECT
        coalesce(payload.repository.full_name, payload.repository.name, 'unknown') AS repo,
        payload.issue."number" AS incident_id,
        payload.action AS action,
        payload.issue AS issue
    FROM deliveries
    WHERE source = 'github' AND event_type = 'issues' AND payload.issue."number" IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY repo, incident_id
        ORDER BY try_cast(payload.issue.updated_at AS TIMESTAMPTZ) DESC NULLS LAST, received_at DESC, delivery_id DESC
    ) = 1
)
SELECT
    repo,
    incident_id,
    try_cast(issue.created_at AS TIMESTAMPTZ) AS time_created,
    CASE WHEN issue.state = 'closed' OR action = 'closed' OR issue.state IS NULL
         THEN try_cast(issue.closed_at AS TIMESTAMPTZ) END AS time_resolved,
    nullif(lower(regexp_extract(issue.body, '(?i)root cause:\s*([0-9a-f]{7,40})\b', 1)), '') AS root_cause_sha
FROM latest
WHERE action IS DISTINCT FROM 'deleted'
  AND list_contains(list_transform(coalesce(issue.labels, []), LAMBDA label: lower(label."name")), 'incident')
  AND try_cast(issue.created_at AS TIMESTAMPTZ) IS NOT NULL;

CREATE TEMP TABLE gold AS
WITH causes AS (SELECT DISTINCT root_cause_sha FROM incidents WHERE root_cause_sha IS NOT NULL),
failed AS (
    SELECT DISTINCT dc.deploy_id
    FROM deployment_changes AS dc
    JOIN causes ON left(dc.change_id, 7) = left(causes.root_cause_sha, 7) AND starts_with(dc.change_id, causes.root_cause_sha)
),
deployment_figures AS (
    SELECT date_trunc('month', d.time_deployed)::DATE AS month, coalesce(d.repo, '*') AS repo,
           count(*) AS deployments, count(DISTINCT d.time_deployed::DATE) AS deploy_days,
           count(failed.deploy_id) AS failed_deployments
    FROM deployments AS d LEFT JOIN failed USING (deploy_id)
    GROUP BY GROUPING SETS ((1, d.repo), (1))
),
lead_time_figures AS (
    SELECT date_trunc('month', time_deployed)::DATE AS month, coalesce(repo, '*') AS repo,
           count(*) AS changes_deployed, median(lead_time_hours) AS lead_time_median_hours
    FROM deployment_changes
    WHERE NOT excluded
    GROUP BY GROUPING SETS ((1, repo), (1))
),
incident_figures AS (
    SELECT date_trunc('month', time_created)::DATE AS month, coalesce(repo, '*') AS repo,
           count(*) AS incidents, count(time_resolved) AS incidents_resolved,
           median(epoch(time_resolved - time_created) / 3600.0) AS time_to_restore_median_hours
    FROM incidents
    GROUP BY GROUPING SETS ((1, repo), (1))
),
activity AS (
    SELECT repo, date_trunc('month', time_deployed)::DATE AS month FROM deployments
    UNION ALL SELECT repo, date_trunc('month', time_created)::DATE FROM changes
    UNION ALL SELECT repo, date_trunc('month', time_created)::DATE FROM incidents
),
spans AS (
    SELECT repo, min(month) AS first_month FROM activity GROUP BY repo
    UNION ALL SELECT '*', min(month) FROM activity
),
grid AS (
    SELECT spans.repo, g.month::DATE AS month
    FROM spans, generate_series(spans.first_month, (SELECT max(month) FROM activity), INTERVAL 1 MONTH) AS g(month)
)
SELECT
    grid.month,
    grid.repo,
    coalesce(d.deployments, 0) AS deployments,
    coalesce(d.deploy_days, 0) AS deploy_days,
    coalesce(l.changes_deployed, 0) AS changes_deployed,
    l.lead_time_median_hours,
    coalesce(d.failed_deployments, 0) AS failed_deployments,
    CASE WHEN coalesce(d.deployments, 0) > 0 THEN d.failed_deployments / d.deployments END AS change_failure_rate,
    coalesce(i.incidents, 0) AS incidents,
    coalesce(i.incidents_resolved, 0) AS incidents_resolved,
    i.time_to_restore_median_hours
FROM grid
LEFT JOIN deployment_figures AS d USING (month, repo)
LEFT JOIN lead_time_figures AS l USING (month, repo)
LEFT JOIN incident_figures AS i USING (month, repo)
ORDER BY month, repo;
