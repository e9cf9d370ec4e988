-- Integrity of one silver table ($table): its key is unique and the columns the contract
-- requires are never NULL. One row per problem found: (problem, affected rows, first examples).
-- Each branch reads its table only when $table names it.
WITH problems AS (
    SELECT 'duplicate key (source, delivery_id)' AS problem, count(*) AS affected, list(source || ':' || delivery_id)[1:$max_examples] AS examples
    FROM (SELECT source, delivery_id FROM silver.pushes WHERE $table = 'silver.pushes' GROUP BY ALL HAVING count(*) > 1)
    UNION ALL
    SELECT 'NULL in repo, after_sha or pushed_at', count(*), list(delivery_id)[1:$max_examples]
    FROM silver.pushes WHERE $table = 'silver.pushes' AND (repo IS NULL OR after_sha IS NULL OR pushed_at IS NULL)
    UNION ALL
    SELECT 'duplicate key (repo, change_id)', count(*), list(repo || '@' || change_id)[1:$max_examples]
    FROM (SELECT repo, change_id FROM silver.changes WHERE $table = 'silver.changes' GROUP BY ALL HAVING count(*) > 1)
    UNION ALL
    SELECT 'NULL in source, repo, change_id or time_created', count(*), list(repo || '@' || change_id)[1:$max_examples]
    FROM silver.changes
    WHERE $table = 'silver.changes' AND (source IS NULL OR repo IS NULL OR change_id IS NULL OR time_created IS NULL)
    UNION ALL
    SELECT 'duplicate key (deploy_id)', count(*), list(deploy_id)[1:$max_examples]
    FROM (SELECT deploy_id FROM silver.deployments WHERE $table = 'silver.deployments' GROUP BY ALL HAVING count(*) > 1)
    UNION ALL
    SELECT 'NULL in source, repo, deploy_id, environment, commit_sha or time_deployed', count(*),
           list(coalesce(deploy_id, delivery_id))[1:$max_examples]
    FROM silver.deployments
    WHERE $table = 'silver.deployments'
      AND (source IS NULL OR repo IS NULL OR deploy_id IS NULL OR environment IS NULL OR commit_sha IS NULL
           OR time_deployed IS NULL)
    UNION ALL
    SELECT 'duplicate key (deploy_id, change_id)', count(*), list(deploy_id || '/' || change_id)[1:$max_examples]
    FROM (
        SELECT deploy_id, change_id FROM silver.deployment_changes
        WHERE $table = 'silver.deployment_changes' GROUP BY ALL HAVING count(*) > 1
    )
    UNION ALL
    SELECT 'change shipped by more than one deployment (repo, change_id)', count(*),
           list(repo || '@' || change_id)[1:$max_examples]
    FROM (
        SELECT repo, change_id FROM silver.deployment_changes
        WHERE $table = 'silver.deployment_changes' GROUP BY ALL HAVING count(DISTINCT deploy_id) > 1
    )
    UNION ALL
    SELECT 'NULL in deploy_id or change_id', count(*), list(coalesce(deploy_id, change_id))[1:$max_examples]
    FROM silver.deployment_changes
    WHERE $table = 'silver.deployment_changes' AND (deploy_id IS NULL OR change_id IS NULL)
    UNION ALL
    SELECT 'duplicate key (source, repo, incident_id)', count(*), list(repo || '#' || incident_id)[1:$max_examples]
    FROM (
        SELECT source, repo, incident_id FROM silver.incidents
        WHERE $table = 'silver.incidents' GROUP BY ALL HAVING count(*) > 1
    )
    UNION ALL
    SELECT 'NULL in source, repo, incident_id or time_created', count(*), list(repo || '#' || incident_id)[1:$max_examples]
    FROM silver.incidents
    WHERE $table = 'silver.incidents' AND (source IS NULL OR repo IS NULL OR incident_id IS NULL OR time_created IS NULL)
    UNION ALL
    SELECT 'duplicate key (source, repo, pull_request_id)', count(*), list(repo || '!' || pull_request_id)[1:$max_examples]
    FROM (
        SELECT source, repo, pull_request_id FROM silver.pull_requests
        WHERE $table = 'silver.pull_requests' GROUP BY ALL HAVING count(*) > 1
    )
    UNION ALL
    SELECT 'NULL in source, repo, pull_request_id or time_merged', count(*), list(repo || '!' || pull_request_id)[1:$max_examples]
    FROM silver.pull_requests
    WHERE $table = 'silver.pull_requests' AND (source IS NULL OR repo IS NULL OR pull_request_id IS NULL OR time_merged IS NULL)
    UNION ALL
    SELECT 'duplicate key (source, delivery_id)', count(*), list(source || ':' || delivery_id)[1:$max_examples]
    FROM (
        SELECT source, delivery_id FROM silver.pull_request_reviews
        WHERE $table = 'silver.pull_request_reviews' GROUP BY ALL HAVING count(*) > 1
    )
    UNION ALL
    SELECT 'NULL in source, repo, pull_request_id or time_reviewed', count(*), list(delivery_id)[1:$max_examples]
    FROM silver.pull_request_reviews
    WHERE $table = 'silver.pull_request_reviews'
      AND (source IS NULL OR repo IS NULL OR pull_request_id IS NULL OR time_reviewed IS NULL)
)
SELECT problem, affected, examples FROM problems WHERE affected > 0 ORDER BY problem;
