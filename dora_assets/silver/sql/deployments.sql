-- silver.deployments: one row per deployment (deployment.id) that succeeded in a production
-- environment, at its earliest successful status (CONTRACT 4).
-- Production = deployment.environment in $production_environments (case-insensitive).
-- Minimal senders (Four Keys) post statuses without repository, deployment.id, environment or
-- created_at: repo becomes 'unknown', the status id (else the delivery id) stands in for the
-- deployment id, a status that names no environment at all counts as production (as Four Keys
-- counted it, environment 'unspecified'), and updated_at stands in for created_at.
-- Window: deployments whose time_deployed is in [$window_start, $window_end).
DELETE FROM silver.deployments WHERE time_deployed >= $window_start AND time_deployed < $window_end;

INSERT INTO silver.deployments
WITH successful_statuses AS (
    SELECT
        source,
        silver.github_repo(payload) AS repo,
        coalesce(payload ->> '$.deployment.id', payload ->> '$.deployment_status.id', delivery_id) AS deploy_id,
        coalesce(payload ->> '$.deployment.environment', payload ->> '$.deployment_status.environment') AS environment,
        lower(payload ->> '$.deployment.sha') AS commit_sha,
        payload ->> '$.deployment.ref' AS ref,
        coalesce(
            try_cast(payload ->> '$.deployment_status.created_at' AS TIMESTAMPTZ),
            try_cast(payload ->> '$.deployment_status.updated_at' AS TIMESTAMPTZ),
            received_at
        ) AS time_deployed,
        delivery_id
    FROM bronze.raw_events
    WHERE source = 'github'
      AND event_type = 'deployment_status'
      AND lower(payload ->> '$.deployment_status.state') = 'success'
)
SELECT
    arg_min(source, time_deployed) AS source,
    arg_min(repo, time_deployed) AS repo,
    deploy_id,
    arg_min(coalesce(environment, 'unspecified'), time_deployed) AS environment,
    arg_min(commit_sha, time_deployed) AS commit_sha,
    arg_min(ref, time_deployed) AS ref,
    min(time_deployed) AS time_deployed,
    arg_min(delivery_id, time_deployed) AS delivery_id
FROM successful_statuses
WHERE (environment IS NULL OR list_contains($production_environments, lower(environment)))
  AND commit_sha IS NOT NULL
GROUP BY deploy_id
HAVING min(time_deployed) >= $window_start AND min(time_deployed) < $window_end;
