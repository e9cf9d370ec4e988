-- After a run's deployments landed: forget the deployments of ($source, $repo) that got a final
-- status or were given up ($settled_ids), remember those still waiting ($waiting_ids, created at
-- $waiting_created; the first sighting is kept), and count what is still pending.
DELETE FROM extract.pending_deployments
WHERE source = $source AND repo = $repo AND deployment_id IN (SELECT unnest($settled_ids::BIGINT[]));
INSERT INTO extract.pending_deployments (source, repo, deployment_id, created_at, first_seen_at)
SELECT $source, $repo, unnest($waiting_ids::BIGINT[]), unnest($waiting_created::TIMESTAMPTZ[]), $first_seen_at
ON CONFLICT (source, repo, deployment_id) DO NOTHING;
SELECT count(*) AS pending FROM extract.pending_deployments WHERE source = $source AND repo = $repo;
