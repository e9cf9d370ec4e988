-- silver.changes: one row per (repo, commit) over every push that carried it, at the commit's
-- earliest timestamp (CONTRACT 4: a commit seen in several pushes is one change).
-- Window: changes whose time_created is in [$window_start, $window_end). Only a change with a
-- commit dated in the window can start in it; for those changes, every push that carried them
-- (of any time) decides. Both come from silver.pushed_commits (the pushes' commits, flattened),
-- so a month's refresh does not unnest every push of history. A commit pushed to a feature
-- branch and then merged carries one timestamp in both pushes: the earliest push names its
-- source and branch (ties: the delivery id), so every refresh picks the same one.
DELETE FROM silver.changes WHERE time_created >= $window_start AND time_created < $window_end;

INSERT INTO silver.changes
WITH window_changes AS (
    SELECT DISTINCT repo, change_id
    FROM silver.pushed_commits
    WHERE change_id IS NOT NULL AND time_created >= $window_start AND time_created < $window_end
),
pushed_commits AS (
    SELECT source, repo, branch, change_id, time_created, pushed_at, delivery_id
    FROM silver.pushed_commits
    SEMI JOIN window_changes USING (repo, change_id)
)
SELECT
    arg_min(source, (time_created, pushed_at, delivery_id)) AS source,
    repo,
    change_id,
    min(time_created) AS time_created,
    arg_min(branch, (time_created, pushed_at, delivery_id)) AS branch
FROM pushed_commits
WHERE change_id IS NOT NULL AND time_created IS NOT NULL
GROUP BY repo, change_id
HAVING min(time_created) >= $window_start AND min(time_created) < $window_end;
