-- The rhythm the volume checks learn from: deliveries per hour over [$since, $now), per source
-- (repo '*') and per (source, repo). The repo of a delivery is its repository (GitHub) or
-- project (GitLab); deliveries without one count for their source only.
CREATE OR REPLACE TEMP TABLE delivery_hours AS
WITH deliveries AS (
    SELECT
        source,
        coalesce(payload ->> '$.repository.full_name', payload ->> '$.project.path_with_namespace') AS repo_name,
        date_trunc('hour', received_at) AS hour
    FROM bronze.raw_events
    WHERE received_at >= $since AND received_at < $now
),
counted AS (
    SELECT source, repo_name, grouping(repo_name) AS whole_source, hour, count(*) AS deliveries
    FROM deliveries
    GROUP BY GROUPING SETS ((source, repo_name, hour), (source, hour))
)
SELECT source, CASE WHEN whole_source = 1 THEN '*' ELSE repo_name END AS repo, hour, deliveries
FROM counted
WHERE whole_source = 1 OR repo_name IS NOT NULL;
