-- The deployments of ($source, $repo) still waiting for a final status, oldest first.
SELECT deployment_id, created_at FROM extract.pending_deployments
WHERE source = $source AND repo = $repo
ORDER BY created_at, deployment_id;
