-- silver.deployments from GitHub `workflow_run`, when $github_deployments_from has it: a
-- completed, successful run of a deploy workflow ($github_deploy_workflows: name, file name or
-- file stem) on the repo's default branch counts as a production deployment; deploy_id
-- 'workflow_run:<id>'. Columns: deployments/candidates.sql.
INSERT INTO source_candidates BY NAME
SELECT
    source,
    event_type,
    silver.github_repo(p) AS repo,
    'workflow_run:' || p.workflow_run.id AS deploy_id,
    'production' AS environment,
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
  )) > 0;
