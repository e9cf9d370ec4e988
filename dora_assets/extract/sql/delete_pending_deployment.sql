-- A deployment of ($source, $repo) that got a final status, or was given up on.
DELETE FROM extract.pending_deployments WHERE source = $source AND repo = $repo AND deployment_id = $deployment_id;
