-- The commit graph of the repos that deploy in the window: one row per (repo, commit, parent).
-- Edges come from:
--   - each pushed commit's parents (silver.pushed_commits.parent_ids: the API's parents, else
--     the commit listed before it in its push, else the push's before sha);
--   - a push's after sha, when the body does not list it last: it reaches the last listed commit,
--     or with none listed (a fast-forward to commits pushed elsewhere) the push's before sha;
--   - a push that names no before sha (minimal senders), or a webhook push whose before no known
--     push or commit of the repo has (the delivery that brought it was lost): its first commit
--     follows the previous push of its branch (pushed_at, then delivery_id), as CONTRACT 4 orders
--     pushes. A lost webhook then costs no change its lead time; API history, whose parents are
--     explicit, is never bridged (a parent before its onboarding is history before tracking).
-- Tag pushes are no edges: a tag names a commit, it does not add one to a branch.
WITH window_repos AS (
    SELECT DISTINCT repo FROM silver.deployments
    WHERE time_deployed >= $window_start AND time_deployed < $window_end
),
known AS (
    SELECT repo, change_id AS sha FROM silver.pushed_commits SEMI JOIN window_repos USING (repo) WHERE change_id IS NOT NULL
    UNION
    SELECT repo, after_sha FROM silver.pushes SEMI JOIN window_repos USING (repo)
),
branch_pushes AS (
    SELECT
        pushes.repo,
        pushes.before_sha,
        pushes.after_sha,
        pushes.commits,
        pushes.delivery_id,
        known.sha IS NOT NULL AS before_known,
        lag(pushes.after_sha) OVER (
            PARTITION BY pushes.repo, coalesce(pushes.branch, '') ORDER BY pushes.pushed_at, pushes.delivery_id
        ) AS previous_after
    FROM silver.pushes AS pushes
    SEMI JOIN window_repos USING (repo)
    LEFT JOIN known ON known.repo = pushes.repo AND known.sha = lower(pushes.before_sha)
    WHERE pushes.branch IS NOT NULL OR pushes.ref IS NULL
),
edges AS (
    SELECT repo, change_id, unnest(parent_ids) AS parent_id
    FROM silver.pushed_commits
    SEMI JOIN window_repos USING (repo)
    WHERE change_id IS NOT NULL
    UNION ALL
    SELECT repo, after_sha, coalesce(commits[-1].change_id, lower(before_sha))
    FROM branch_pushes
    WHERE after_sha IS DISTINCT FROM commits[-1].change_id
    UNION ALL
    SELECT repo, commits[1].change_id, previous_after
    FROM branch_pushes
    WHERE len(commits) > 0
      AND (
          before_sha IS NULL
          OR (NOT before_known AND NOT regexp_full_match(before_sha, '0+') AND NOT starts_with(delivery_id, 'api:'))
      )
)
SELECT DISTINCT repo, change_id, parent_id
FROM edges
WHERE parent_id IS NOT NULL
  AND parent_id <> change_id
  AND NOT regexp_full_match(parent_id, '0+')
  AND NOT regexp_full_match(change_id, '0+');
