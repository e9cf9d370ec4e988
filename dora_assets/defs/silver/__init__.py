"""Silver: normalised facts (pushes, changes, deployments, deployment_changes, incidents) by SQL over bronze."""
