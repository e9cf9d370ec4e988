-- silver.deployments from Jenkins `build.completed`/`build.finalized` (Notification plugin):
-- status SUCCESS of a deploy job ($jenkins_deploy_jobs globs), or of any job whose
-- $jenkins_environment_parameter names a production environment ($production_environments);
-- commit build.scm.commit; repo from $jenkins_jobs or build.scm.url; time = timestamp + duration
-- when sent, else received_at; deploy_id 'jenkins:<job>#<number>' with the job's full name
-- (folder/multibranch path from its url). Columns: deployments/candidates.sql.
INSERT INTO source_candidates BY NAME
WITH builds AS (
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
deployments AS (
    SELECT
        source,
        event_type,
        coalesce(silver.lookup($jenkins_jobs_keys, $jenkins_jobs_values, job), silver.repo_from_url(scm_url), job, 'unknown')
            AS repo,
        'jenkins:' || job || '#' || build_number AS deploy_id,
        coalesce(environment_parameter, 'production') AS environment,
        CASE WHEN environment_parameter IS NOT NULL
             THEN list_contains($production_environments, lower(environment_parameter))
             ELSE len(list_filter($jenkins_deploy_jobs, LAMBDA pattern: lower(job) GLOB pattern)) > 0 END AS to_production,
        commit_sha,
        ref,
        coalesce(finished_at, received_at) AS time_deployed,
        delivery_id,
        received_at
    FROM builds
    WHERE len(list_filter($jenkins_deploy_jobs, LAMBDA pattern: lower(job) GLOB pattern)) > 0
       OR environment_parameter IS NOT NULL
)
SELECT * EXCLUDE (to_production)
FROM deployments
WHERE to_production;
