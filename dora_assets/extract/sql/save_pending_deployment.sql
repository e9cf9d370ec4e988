-- Remember a deployment of ($source, $repo) that has no final status yet (first sighting kept).
INSERT INTO extract.pending_deployments (source, repo, deployment_id, created_at, first_seen_at)
VALUES ($source, $repo, $deployment_id, $created_at, $first_seen_at)
ON CONFLICT (source, repo, deployment_id) DO NOTHING;
