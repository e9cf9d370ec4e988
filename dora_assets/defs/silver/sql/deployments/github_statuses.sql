-- silver.deployments from GitHub `deployment_status` (and the API extractor's
-- `api:deployment_status`), when $github_deployments_from has it (the default): state success in
-- a production environment ($production_environments, case-insensitive); deploy_id =
-- deployment.id (unprefixed, CONTRACT 4). Columns: deployments/candidates.sql.
-- Minimal senders (Four Keys) post statuses without repository, deployment.id, environment or
-- created_at: repo becomes 'unknown', the status id (else the delivery id) stands in for the
-- deployment id, a status naming no environment counts as production (as Four Keys counted it,
-- 'unspecified'), updated_at stands in for created_at.
INSERT INTO source_candidates BY NAME
WITH documents AS (
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
statuses AS (
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
    FROM documents
    WHERE lower(p.deployment_status.state) = 'success'
)
SELECT * EXCLUDE (to_production)
FROM statuses
WHERE to_production;
