-- silver.deployments from GitHub `release`, when $github_deployments_from has it: a published
-- release, not a draft or prerelease, counts as a production deployment; its commit is the
-- pushed tag's sha, else target_commitish when it is a sha, else the head of the
-- target_commitish branch at publication; deploy_id 'release:<id>'. Columns:
-- deployments/candidates.sql.
-- Reads bronze.raw_events only in the received_at range window_deliveries.sql found, except for
-- the tag and branch heads, which may be pushes of any time.
INSERT INTO source_candidates BY NAME
WITH push_heads AS (
    -- Every push of any time (a release names a tag or branch pushed earlier).
    SELECT
        received_at,
        json_transform(payload, '{
            "ref": "VARCHAR", "after": "VARCHAR",
            "repository": {"full_name": "VARCHAR", "name": "VARCHAR", "pushed_at": "VARCHAR"}
        }') AS p
    FROM (
        SELECT * FROM bronze.raw_events WHERE source = 'github' AND event_type = 'push'
        UNION ALL SELECT * FROM bronze.raw_events WHERE source = 'github' AND event_type = 'api:push'
    )
    WHERE list_contains($github_deployments_from, 'release')
),
tag_pushes AS (
    SELECT silver.github_repo(p) AS repo, substr(p.ref, 11) AS tag,
           arg_max(lower(p."after"), received_at) AS sha
    FROM push_heads
    WHERE starts_with(p.ref, 'refs/tags/')
    GROUP BY ALL
),
branch_heads AS (
    SELECT silver.github_repo(p) AS repo, substr(p.ref, 12) AS branch,
           lower(p."after") AS sha,
           coalesce(to_timestamp(try_cast(p.repository.pushed_at AS BIGINT)), received_at) AS pushed_at
    FROM push_heads
    WHERE starts_with(p.ref, 'refs/heads/')
),
releases AS (
    SELECT
        source,
        event_type,
        silver.github_repo(p) AS repo,
        'release:' || p.release.id AS deploy_id,
        'production' AS environment,
        p.release.tag_name AS tag,
        p.release.target_commitish AS target_commitish,
        coalesce(silver.event_time(p.release.published_at), received_at) AS time_deployed,
        delivery_id,
        received_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "action": "VARCHAR",
                "release": {
                    "id": "VARCHAR", "tag_name": "VARCHAR", "target_commitish": "VARCHAR",
                    "published_at": "VARCHAR", "draft": "VARCHAR", "prerelease": "VARCHAR"
                },
                "repository": {"full_name": "VARCHAR", "name": "VARCHAR"}
            }') AS p
        FROM silver.window_events('github', 'release')
        WHERE list_contains($github_deployments_from, 'release')
    )
    WHERE p.action IN ('published', 'released')
      AND NOT coalesce(try_cast(p.release.draft AS BOOLEAN), FALSE)
      AND NOT coalesce(try_cast(p.release.prerelease AS BOOLEAN), FALSE)
)
SELECT
    releases.source, releases.event_type, releases.repo, releases.deploy_id, releases.environment,
    coalesce(
        tags.sha,
        CASE WHEN regexp_full_match(lower(releases.target_commitish), '[0-9a-f]{40}') THEN lower(releases.target_commitish) END,
        heads.sha
    ) AS commit_sha,
    CASE WHEN NOT regexp_full_match(lower(releases.target_commitish), '[0-9a-f]{40}') THEN releases.target_commitish END AS ref,
    releases.time_deployed, releases.delivery_id, releases.received_at
FROM releases
LEFT JOIN tag_pushes AS tags ON tags.repo = releases.repo AND tags.tag = releases.tag
ASOF LEFT JOIN branch_heads AS heads
  ON heads.repo = releases.repo AND heads.branch = releases.target_commitish
 AND heads.pushed_at <= releases.time_deployed;
