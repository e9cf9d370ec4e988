-- silver.deployments from GitLab `deployment` (bodies recognised by object_kind, whatever the
-- delivery's event type: `Deployment Hook` too): status success in a production environment (by
-- name in $production_environments, or GitLab's environment_tier production); the sha from
-- commit_url; deploy_id 'gitlab:<deployment_id>'. Columns: deployments/candidates.sql.
INSERT INTO source_candidates BY NAME
WITH deployments AS (
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
)
SELECT * EXCLUDE (to_production)
FROM deployments
WHERE to_production;
