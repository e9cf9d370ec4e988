-- silver.changes: one row per (repo, commit) over every push that carried it, at the commit's
-- earliest timestamp (CONTRACT 4: a commit seen in several pushes is one change).
-- Window: changes whose time_created is in [$window_start, $window_end).
DELETE FROM silver.changes WHERE time_created >= $window_start AND time_created < $window_end;

INSERT INTO silver.changes
WITH pushed_commits AS (
    SELECT pushes.source, pushes.repo, pushes.branch, commit.change_id, commit.time_created
    FROM silver.pushes AS pushes, unnest(pushes.commits) AS carried(commit)
)
SELECT
    arg_min(source, time_created) AS source,
    repo,
    change_id,
    min(time_created) AS time_created,
    arg_min(branch, time_created) AS branch
FROM pushed_commits
WHERE change_id IS NOT NULL AND time_created IS NOT NULL
GROUP BY repo, change_id
HAVING min(time_created) >= $window_start AND min(time_created) < $window_end;
