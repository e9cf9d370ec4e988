-- The rhythm the gap checks learn from: deliveries per hour over [$since, $now), per key. A key
-- is a source (repo '*', event_type '*'), a (source, repo) (event_type '*'), or a (source, repo,
-- event_type): one kind of delivery of one repo, so that pushes lost while the repo's other
-- events continue are seen. The repo of a delivery is its repository (GitHub) or project
-- (GitLab); deliveries without one count for their source only. Only deliveries received
-- before $now are read, so a past moment is judged on what had arrived by then.
CREATE OR REPLACE TEMP TABLE delivery_hours AS
WITH deliveries AS (
    SELECT
        source,
        coalesce(payload ->> '$.repository.full_name', payload ->> '$.project.path_with_namespace') AS repo_name,
        event_type,
        date_trunc('hour', received_at) AS hour
    FROM bronze.raw_events
    WHERE received_at >= $since AND received_at < $now
),
counted AS (
    SELECT
        source,
        repo_name,
        event_type,
        grouping(repo_name) AS whole_source,
        grouping(event_type) AS whole_repo,
        hour,
        count(*) AS deliveries
    FROM deliveries
    GROUP BY GROUPING SETS ((source, repo_name, event_type, hour), (source, repo_name, hour), (source, hour))
)
SELECT
    source,
    CASE WHEN whole_source = 1 THEN '*' ELSE repo_name END AS repo,
    CASE WHEN whole_repo = 1 THEN '*' ELSE event_type END AS event_type,
    hour,
    deliveries
FROM counted
WHERE whole_source = 1 OR repo_name IS NOT NULL;
