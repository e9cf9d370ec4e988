-- silver.deployments: one row per deployment that succeeded in a production environment, at
-- its earliest success (CONTRACT 4), from every source that reports deployments:
--   github deployment_status  state success; deploy_id = deployment.id (unprefixed, CONTRACT 4).
--                             Minimal senders (Four Keys) post statuses without repository,
--                             deployment.id, environment or created_at: repo becomes 'unknown',
--                             the status id (else the delivery id) stands in for the deployment
--                             id, a status naming no environment counts as production (as Four
--                             Keys counted it, 'unspecified'), updated_at stands in for created_at.
--   github workflow_run       (when $github_deployments_from has it) a completed, successful run
--                             of a deploy workflow ($github_deploy_workflows: name, file name or
--                             file stem) on the repo's default branch; deploy_id 'workflow_run:<id>'.
--   github release            (when $github_deployments_from has it) a published release, not a
--                             draft or prerelease; its commit is the pushed tag's sha, else
--                             target_commitish when it is a sha, else the head of the
--                             target_commitish branch at publication; deploy_id 'release:<id>'.
--   gitlab deployment         status success in a production environment (by name, or GitLab's
--                             environment_tier production); the sha from commit_url;
--                             deploy_id 'gitlab:<deployment_id>'.
--   jenkins build.completed/.finalized  status SUCCESS of a deploy job ($jenkins_deploy_jobs
--                             globs), or of any job whose $jenkins_environment_parameter names a
--                             production environment; commit build.scm.commit; repo from
--                             $jenkins_jobs or build.scm.url; time = timestamp + duration when
--                             sent, else received_at; deploy_id 'jenkins:<job>#<number>' with
--                             the job's full name (folder/multibranch path from its url).
-- Production = environment in $production_environments (case-insensitive). Repos pass through
-- $repo_aliases. A success that names no commit is rejected to silver.rejected_events.
-- Rejects (reject_reason) are written by replace_rejects.sql in the same transaction.
-- Window: deployments whose time_deployed (rejects: received_at) is in [$window_start, $window_end).
-- Reads bronze.raw_events only in the received_at range window_deliveries.sql found, except
-- for the releases' tag and branch heads, which may be pushes of any time.
CREATE OR REPLACE TEMP TABLE mapping_candidates AS
WITH github_status_documents AS (
    -- Each payload is parsed once (json_transform; a field's text as ->> gives it).
    SELECT
        *,
        json_transform(payload, '{
            "deployment": {"id": "VARCHAR", "sha": "VARCHAR", "ref": "VARCHAR", "environment": "VARCHAR"},
            "deployment_status": {
                "id": "VARCHAR", "state": "VARCHAR", "environment": "VARCHAR",
                "created_at": "VARCHAR", "updated_at": "VARCHAR"
            },
            "repository": {"full_name": "VARCHAR", "name": "VARCHAR"}
        }') AS p
    FROM (
        SELECT * FROM silver.window_events('github', 'deployment_status')
        UNION ALL SELECT * FROM silver.window_events('github', 'api:deployment_status')
    )
    WHERE list_contains($github_deployments_from, 'deployment_status')
),
github_statuses AS (
    SELECT
        source,
        event_type,
        silver.github_repo(p) AS repo,
        coalesce(p.deployment.id, p.deployment_status.id, delivery_id) AS deploy_id,
        coalesce(p.deployment.environment, p.deployment_status.environment, 'unspecified') AS environment,
        coalesce(p.deployment.environment, p.deployment_status.environment) IS NULL
            OR list_contains(
                $production_environments, lower(coalesce(p.deployment.environment, p.deployment_status.environment))
            ) AS to_production,
        lower(p.deployment.sha) AS commit_sha,
        p.deployment.ref AS ref,
        coalesce(
            silver.event_time(p.deployment_status.created_at),
            silver.event_time(p.deployment_status.updated_at),
            received_at
        ) AS time_deployed,
        delivery_id,
        received_at
    FROM github_status_documents
    WHERE lower(p.deployment_status.state) = 'success'
),
github_workflow_runs AS (
    SELECT
        source,
        event_type,
        silver.github_repo(p) AS repo,
        'workflow_run:' || p.workflow_run.id AS deploy_id,
        'production' AS environment,
        TRUE AS to_production,
        lower(p.workflow_run.head_sha) AS commit_sha,
        p.workflow_run.head_branch AS ref,
        coalesce(silver.event_time(p.workflow_run.updated_at), received_at) AS time_deployed,
        delivery_id,
        received_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "action": "VARCHAR",
                "workflow_run": {
                    "id": "VARCHAR", "head_sha": "VARCHAR", "head_branch": "VARCHAR", "updated_at": "VARCHAR",
                    "conclusion": "VARCHAR", "name": "VARCHAR", "path": "VARCHAR"
                },
                "repository": {"full_name": "VARCHAR", "name": "VARCHAR", "default_branch": "VARCHAR"}
            }') AS p
        FROM silver.window_events('github', 'workflow_run')
        WHERE list_contains($github_deployments_from, 'workflow_run')
    )
    WHERE p.action = 'completed'
      AND p.workflow_run.conclusion = 'success'
      AND p.workflow_run.head_branch = p.repository.default_branch
      AND len(list_intersect(
          $github_deploy_workflows,
          [
              lower(p.workflow_run.name),
              lower(regexp_extract(p.workflow_run.path, '([^/]+)$', 1)),
              lower(regexp_extract(p.workflow_run.path, '([^/]+?)(\.ya?ml)?$', 1))
          ]
      )) > 0
),
github_push_heads AS (
    -- Releases only: every push of any time (a release names a tag or branch pushed earlier).
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
github_tag_pushes AS (
    SELECT silver.github_repo(p) AS repo, substr(p.ref, 11) AS tag,
           arg_max(lower(p."after"), received_at) AS sha
    FROM github_push_heads
    WHERE starts_with(p.ref, 'refs/tags/')
    GROUP BY ALL
),
github_branch_heads AS (
    SELECT silver.github_repo(p) AS repo, substr(p.ref, 12) AS branch,
           lower(p."after") AS sha,
           coalesce(to_timestamp(try_cast(p.repository.pushed_at AS BIGINT)), received_at) AS pushed_at
    FROM github_push_heads
    WHERE starts_with(p.ref, 'refs/heads/')
),
github_releases AS (
    SELECT
        source,
        event_type,
        silver.github_repo(p) AS repo,
        'release:' || p.release.id AS deploy_id,
        'production' AS environment,
        TRUE AS to_production,
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
),
github_release_deployments AS (
    SELECT
        releases.source, releases.event_type, releases.repo, releases.deploy_id, releases.environment,
        releases.to_production,
        coalesce(
            tags.sha,
            CASE WHEN regexp_full_match(lower(releases.target_commitish), '[0-9a-f]{40}') THEN lower(releases.target_commitish) END,
            heads.sha
        ) AS commit_sha,
        CASE WHEN NOT regexp_full_match(lower(releases.target_commitish), '[0-9a-f]{40}') THEN releases.target_commitish END AS ref,
        releases.time_deployed, releases.delivery_id, releases.received_at
    FROM github_releases AS releases
    LEFT JOIN github_tag_pushes AS tags ON tags.repo = releases.repo AND tags.tag = releases.tag
    ASOF LEFT JOIN github_branch_heads AS heads
      ON heads.repo = releases.repo AND heads.branch = releases.target_commitish
     AND heads.pushed_at <= releases.time_deployed
),
gitlab_deployments AS (
    SELECT
        source,
        event_type,
        coalesce(p.project.path_with_namespace, 'unknown') AS repo,
        'gitlab:' || p.deployment_id AS deploy_id,
        coalesce(p.environment, 'unspecified') AS environment,
        list_contains($production_environments, lower(p.environment))
            OR lower(p.environment_tier) = 'production' AS to_production,
        nullif(lower(regexp_extract(p.commit_url, '/commit/([0-9a-fA-F]{40})', 1)), '') AS commit_sha,
        p.ref AS ref,
        coalesce(silver.event_time(p.status_changed_at), received_at) AS time_deployed,
        delivery_id,
        received_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "object_kind": "VARCHAR", "status": "VARCHAR", "deployment_id": "VARCHAR", "environment": "VARCHAR",
                "environment_tier": "VARCHAR", "commit_url": "VARCHAR", "ref": "VARCHAR",
                "status_changed_at": "VARCHAR", "project": {"path_with_namespace": "VARCHAR"}
            }') AS p
        FROM silver.window_source_events('gitlab')
    )
    WHERE p.object_kind = 'deployment'
      AND lower(p.status) = 'success'
),
jenkins_builds AS (
    SELECT
        source,
        event_type,
        -- The job's full name (folders and multibranch jobs: job/payments/job/main/ -> payments/main).
        coalesce(nullif(regexp_replace(trim(p.url, '/'), '(^|/)job/', '\1', 'g'), ''), p.name) AS job,
        p.build.number AS build_number,
        CASE WHEN $jenkins_environment_parameter <> ''
             THEN payload -> '$.build.parameters' ->> $jenkins_environment_parameter END AS environment_parameter,
        lower(p.build.scm.commit) AS commit_sha,
        regexp_replace(p.build.scm.branch, '^(origin/|refs/heads/)', '') AS ref,
        p.build.scm.url AS scm_url,
        to_timestamp((try_cast(p.build."timestamp" AS BIGINT) + try_cast(p.build.duration AS BIGINT)) / 1000) AS finished_at,
        delivery_id,
        received_at
    FROM (
        SELECT
            *,
            json_transform(payload, '{
                "url": "VARCHAR", "name": "VARCHAR",
                "build": {
                    "number": "VARCHAR", "status": "VARCHAR", "timestamp": "VARCHAR", "duration": "VARCHAR",
                    "scm": {"commit": "VARCHAR", "branch": "VARCHAR", "url": "VARCHAR"}
                }
            }') AS p
        FROM (
            SELECT * FROM silver.window_events('jenkins', 'build.completed')
            UNION ALL SELECT * FROM silver.window_events('jenkins', 'build.finalized')
        )
    )
    WHERE upper(p.build.status) = 'SUCCESS'
),
jenkins_deployments AS (
    SELECT
        source,
        event_type,
        coalesce(silver.lookup($jenkins_jobs_keys, $jenkins_jobs_values, job), silver.repo_from_url(scm_url), job, 'unknown')
            AS repo,
        'jenkins:' || job || '#' || build_number AS deploy_id,
        coalesce(environment_parameter, 'production') AS environment,
        CASE WHEN environment_parameter IS NOT NULL
             THEN list_contains($production_environments, lower(environment_parameter))
             ELSE len(list_filter($jenkins_deploy_jobs, lambda pattern: lower(job) GLOB pattern)) > 0 END AS to_production,
        commit_sha,
        ref,
        coalesce(finished_at, received_at) AS time_deployed,
        delivery_id,
        received_at
    FROM jenkins_builds
    WHERE len(list_filter($jenkins_deploy_jobs, lambda pattern: lower(job) GLOB pattern)) > 0
       OR environment_parameter IS NOT NULL
),
successes AS (
    SELECT * EXCLUDE (to_production)
    FROM (
        SELECT * FROM github_statuses
        UNION ALL BY NAME SELECT * FROM github_workflow_runs
        UNION ALL BY NAME SELECT * FROM github_release_deployments
        UNION ALL BY NAME SELECT * FROM gitlab_deployments
        UNION ALL BY NAME SELECT * FROM jenkins_deployments
    )
    WHERE to_production
)
SELECT
    * REPLACE (coalesce(silver.lookup($repo_aliases_keys, $repo_aliases_values, repo), repo) AS repo),
    CASE
        WHEN deploy_id IS NULL THEN 'deployment has no id'
        WHEN commit_sha IS NULL OR NOT regexp_full_match(commit_sha, '[0-9a-f]{7,40}')
            THEN 'successful deployment names no commit sha'
    END AS reject_reason
FROM successes;

DELETE FROM silver.deployments WHERE time_deployed >= $window_start AND time_deployed < $window_end;

INSERT INTO silver.deployments BY NAME
SELECT
    arg_min(source, (time_deployed, delivery_id)) AS source,
    arg_min(repo, (time_deployed, delivery_id)) AS repo,
    deploy_id,
    arg_min(environment, (time_deployed, delivery_id)) AS environment,
    arg_min(commit_sha, (time_deployed, delivery_id)) AS commit_sha,
    arg_min(ref, (time_deployed, delivery_id)) AS ref,
    min(time_deployed) AS time_deployed,
    arg_min(delivery_id, (time_deployed, delivery_id)) AS delivery_id
FROM mapping_candidates
WHERE reject_reason IS NULL
GROUP BY deploy_id
HAVING min(time_deployed) >= $window_start AND min(time_deployed) < $window_end;
