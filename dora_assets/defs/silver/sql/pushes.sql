-- silver.pushes: one row per push delivery, GitHub `push` and GitLab `push`/`tag_push`
-- (bronze event types; GitLab bodies are recognised by object_kind).
-- GitHub: pushed_at is repository.pushed_at (epoch seconds), else the head commit's time, else
-- received_at. Minimal senders (Four Keys' event handler and data generator) post pushes
-- without repository, ref or after: repo becomes 'unknown', branch stays NULL (matched only by
-- deployments that name no ref either) and after falls back to head_commit.id.
-- GitLab: repo is project.path_with_namespace; a push carries no push time, so pushed_at is
-- received_at (the hook fires on push). GitLab lists at most 20 commits per push.
-- Repos pass through $repo_aliases. Branch and tag deletions (after = 000...0) stay, with no commits.
-- A push without an after sha is rejected to silver.rejected_events with the reason.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: rows whose pushed_at (rejects: received_at) is in [$window_start, $window_end).
-- Reads bronze.raw_events only in the received_at range window_deliveries.sql found.
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
WITH github_documents AS (
    -- Each payload is parsed once (json_transform: a field's text as ->> gives it; commits that
    -- are not objects count, with no id or time, as with json_extract '$.commits[*]').
    SELECT
        *,
        json_transform(payload, '{
            "ref": "VARCHAR", "before": "VARCHAR", "after": "VARCHAR",
            "head_commit": {"id": "VARCHAR", "timestamp": "VARCHAR"},
            "repository": {"full_name": "VARCHAR", "name": "VARCHAR", "pushed_at": "VARCHAR"},
            "commits": [{"id": "VARCHAR", "timestamp": "VARCHAR"}]
        }') AS p
    FROM (
        SELECT * FROM silver.window_events('github', 'push')
        UNION ALL SELECT * FROM silver.window_events('github', 'api:push')
    )
),
github_pushes AS (
    SELECT
        source,
        event_type,
        silver.github_repo(p) AS repo,
        p.ref AS ref,
        p."before" AS before_sha,
        lower(coalesce(p."after", p.head_commit.id)) AS after_sha,
        coalesce(
            to_timestamp(try_cast(p.repository.pushed_at AS BIGINT)),
            silver.event_time(p.head_commit."timestamp"),
            received_at
        ) AS pushed_at,
        coalesce(p.commits, []) AS commit_documents,
        delivery_id,
        received_at
    FROM github_documents
),
gitlab_documents AS (
    SELECT
        *,
        json_transform(payload, '{
            "object_kind": "VARCHAR", "ref": "VARCHAR", "before": "VARCHAR", "after": "VARCHAR",
            "checkout_sha": "VARCHAR", "project": {"path_with_namespace": "VARCHAR"},
            "commits": [{"id": "VARCHAR", "timestamp": "VARCHAR"}]
        }') AS p
    FROM silver.window_source_events('gitlab')
),
gitlab_pushes AS (
    SELECT
        source,
        event_type,
        coalesce(p.project.path_with_namespace, 'unknown') AS repo,
        p.ref AS ref,
        p."before" AS before_sha,
        lower(coalesce(p."after", p.checkout_sha)) AS after_sha,
        received_at AS pushed_at,
        coalesce(p.commits, []) AS commit_documents,
        delivery_id,
        received_at
    FROM gitlab_documents
    WHERE p.object_kind IN ('push', 'tag_push')
)
SELECT
    *,
    CASE WHEN after_sha IS NULL THEN 'push names no after sha (after, head_commit.id or checkout_sha)' END
        AS reject_reason
FROM (SELECT * FROM github_pushes UNION ALL BY NAME SELECT * FROM gitlab_pushes);

DELETE FROM silver.pushes WHERE pushed_at >= $window_start AND pushed_at < $window_end;

INSERT INTO silver.pushes BY NAME
SELECT
    source,
    coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo,
    ref,
    CASE WHEN starts_with(ref, 'refs/heads/') THEN substr(ref, 12) END AS branch,
    before_sha,
    after_sha,
    pushed_at,
    len(commit_documents) AS commit_count,
    list_transform(
        commit_documents,
        lambda commit: {
            'change_id': lower(commit.id),
            'time_created': silver.event_time(commit."timestamp")
        }
    ) AS commits,
    delivery_id
FROM mapping_candidates
WHERE reject_reason IS NULL
  AND pushed_at >= $window_start AND pushed_at < $window_end;

-- The window's pushes' commits, flattened (silver.pushed_commits), replaced with them.
DELETE FROM silver.pushed_commits WHERE pushed_at >= $window_start AND pushed_at < $window_end;

INSERT INTO silver.pushed_commits
SELECT pushes.delivery_id, pushes.source, pushes.repo, pushes.branch, pushes.pushed_at, commit.change_id, commit.time_created
FROM silver.pushes AS pushes, unnest(pushes.commits) AS carried(commit)
WHERE pushes.pushed_at >= $window_start AND pushes.pushed_at < $window_end;
