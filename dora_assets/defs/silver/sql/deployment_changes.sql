-- silver.deployment_changes: the changes each deployment shipped to production first (CONTRACT 4,
-- README "Lead time"), from `shipments` (repo, deploy_id, change_id): what
-- dora_assets/lineage.py found walking the commit graph (commit_graph.sql) back from each
-- deployment of the window's repos (shipping_order.sql), in shipping order, up to what an
-- earlier deployment of the repo already reached; the window's deployments only. Only commits
-- silver.changes knows are changes.
--
-- Lead time starts at the commit's time, except for a commit that merged a pull request (its
-- merge commit, or a squash commit): then at the request's first commit: the earliest commit
-- pushed to its source branch before it merged (after the previous request from that branch
-- merged), else the earliest author time of the commits the API listed for it, else (flagged)
-- the time it was opened. The request's own commits that ship with its merge commit are one
-- change with it: they stay rows here, with excluded_reason set, and count in no figure.
--
-- Also kept out of lead time, with their reason: the changes a repo's first known deployment
-- shipped that API history onboarded from a later date than their own (`history before
-- tracking`: an earlier, unseen deployment may have shipped them; webhook pushes and history
-- onboarded from the repository's creation are tracked as they happened); and bot changes
-- (author of the request, else of the commit, matching $bot_author_patterns) unless
-- $include_bots. is_bot marks the latter either way, for the figures that count them apart.
-- Window: pairs whose deployment's time_deployed is in [$window_start, $window_end).
DELETE FROM silver.deployment_changes WHERE time_deployed >= $window_start AND time_deployed < $window_end;

INSERT INTO silver.deployment_changes BY NAME
WITH deployments AS (
    SELECT repo, deploy_id, min(time_deployed) AS time_deployed
    FROM silver.deployments
    WHERE time_deployed >= $window_start AND time_deployed < $window_end
    GROUP BY ALL
),
shipped AS (
    SELECT shipments.repo, shipments.deploy_id, shipments.change_id, changes.source, changes.time_created,
           deployments.time_deployed
    FROM shipments
    JOIN deployments USING (repo, deploy_id)
    JOIN silver.changes AS changes USING (repo, change_id)
),
merged_requests AS (
    SELECT
        *,
        lag(time_merged) OVER (PARTITION BY repo, source_branch ORDER BY time_merged, pull_request_id) AS previous_merge
    FROM silver.pull_requests
    WHERE repo IN (SELECT repo FROM shipped)
),
merge_commits AS (
    -- The shipped commits that merged a request (its merge or squash commit): one request each.
    SELECT
        shipped.repo, shipped.deploy_id, shipped.change_id, merged_requests.source, merged_requests.pull_request_id,
        merged_requests.time_opened, merged_requests.time_merged, merged_requests.source_branch, merged_requests.commit_ids,
        merged_requests.first_commit_at, merged_requests.author, merged_requests.previous_merge
    FROM shipped
    JOIN merged_requests
      ON merged_requests.repo = shipped.repo
     AND (shipped.change_id = merged_requests.merge_commit_sha OR shipped.change_id = merged_requests.squash_commit_sha)
    QUALIFY row_number() OVER (
        PARTITION BY shipped.repo, shipped.change_id ORDER BY merged_requests.time_merged, merged_requests.pull_request_id
    ) = 1
),
branch_commits AS (
    -- Commits pushed to a merged request's source branch while it was the request's.
    SELECT merge_commits.repo, merge_commits.change_id AS merge_id, pushed.change_id, pushed.time_created
    FROM merge_commits
    JOIN silver.pushed_commits AS pushed
      ON pushed.repo = merge_commits.repo
     AND pushed.branch = merge_commits.source_branch
     AND pushed.pushed_at <= merge_commits.time_merged
     AND (merge_commits.previous_merge IS NULL OR pushed.pushed_at > merge_commits.previous_merge)
    WHERE pushed.change_id IS NOT NULL
),
starts AS (
    SELECT
        merge_commits.repo,
        merge_commits.change_id,
        merge_commits.deploy_id,
        merge_commits.pull_request_id,
        merge_commits.author,
        merge_commits.time_opened,
        merge_commits.time_merged,
        CASE
            WHEN branch.first_commit_at IS NOT NULL THEN 'pull_request_branch_pushes'
            WHEN merge_commits.first_commit_at IS NOT NULL THEN 'pull_request_commits_api'
            WHEN merge_commits.time_opened IS NOT NULL THEN 'pull_request_opened'
        END AS start_source,
        coalesce(branch.first_commit_at, merge_commits.first_commit_at, merge_commits.time_opened) AS request_start,
        list_distinct(flatten([coalesce(branch.commit_ids, []), coalesce(merge_commits.commit_ids, [])])) AS member_ids
    FROM merge_commits
    LEFT JOIN (
        SELECT repo, merge_id, min(time_created) AS first_commit_at, list(DISTINCT change_id) AS commit_ids
        FROM branch_commits
        GROUP BY ALL
    ) AS branch
      ON branch.repo = merge_commits.repo AND branch.merge_id = merge_commits.change_id
),
first_reviews AS (
    -- A merged request's first review or comment before it merged, by someone other than its
    -- author and no bot: where its pickup time ends.
    SELECT merge_commits.repo, merge_commits.change_id, min(reviews.time_reviewed) AS time_first_review
    FROM merge_commits
    JOIN silver.pull_request_reviews AS reviews
      ON reviews.source = merge_commits.source
     AND reviews.repo = merge_commits.repo
     AND reviews.pull_request_id = merge_commits.pull_request_id
     AND reviews.time_reviewed <= merge_commits.time_merged
    WHERE NOT reviews.by_author AND NOT silver.is_bot(reviews.reviewer, $bot_author_patterns)
    GROUP BY ALL
),
first_deployments AS (
    -- Each repo's first known production deployment.
    SELECT repo, arg_min(deploy_id, (time_deployed, deploy_id)) AS deploy_id
    FROM silver.deployments
    WHERE repo IN (SELECT repo FROM shipped)
    GROUP BY repo
),
seen AS (
    -- Per shipped change: whether a push tracked it as it happened, the repo's onboarding date
    -- of its API history, and the commit's author.
    SELECT
        pushed.repo,
        pushed.change_id,
        bool_or(pushed.tracked_since IS NULL) AS tracked_as_it_happened,
        arg_min(pushed.author, pushed.pushed_at) FILTER (WHERE pushed.author IS NOT NULL) AS author
    FROM silver.pushed_commits AS pushed
    SEMI JOIN shipped USING (repo, change_id)
    GROUP BY ALL
),
onboarded AS (
    SELECT repo, min(tracked_since) AS tracked_since
    FROM silver.pushed_commits
    WHERE repo IN (SELECT repo FROM shipped)
    GROUP BY repo
),
members AS (
    -- A request's own commits that ship with its merge commit, in the same deployment.
    SELECT shipped.repo, shipped.change_id, min(starts.pull_request_id) AS pull_request_id
    FROM starts, unnest(starts.member_ids) AS listed(member_id)
    JOIN shipped
      ON shipped.repo = starts.repo
     AND shipped.deploy_id = starts.deploy_id
     AND shipped.change_id = listed.member_id
     AND shipped.change_id <> starts.change_id
    GROUP BY ALL
)
SELECT
    shipped.deploy_id,
    shipped.change_id,
    shipped.source,
    shipped.repo,
    shipped.time_created,
    shipped.time_deployed,
    least(shipped.time_created, coalesce(starts.request_start, shipped.time_created)) AS lead_time_start,
    epoch(shipped.time_deployed - lead_time_start) / 3600.0 AS lead_time_hours,
    coalesce(starts.start_source, 'commit') AS start_source,
    coalesce(starts.pull_request_id, members.pull_request_id) AS pull_request_id,
    coalesce(starts.author, seen.author) AS author,
    silver.is_bot(coalesce(starts.author, seen.author), $bot_author_patterns) AS is_bot,
    starts.time_opened,
    first_reviews.time_first_review,
    starts.time_merged,
    CASE
        WHEN members.change_id IS NOT NULL THEN 'part of a pull request shipped with its merge commit'
        WHEN shipped.deploy_id = first_deployments.deploy_id
             AND NOT coalesce(seen.tracked_as_it_happened, TRUE)
             AND shipped.time_created < onboarded.tracked_since
            THEN 'history before tracking'
        WHEN is_bot AND NOT ($include_bots) THEN 'bot'
    END AS excluded_reason
FROM shipped
LEFT JOIN starts USING (repo, change_id)
LEFT JOIN members USING (repo, change_id)
LEFT JOIN seen USING (repo, change_id)
LEFT JOIN first_reviews USING (repo, change_id)
LEFT JOIN first_deployments USING (repo)
LEFT JOIN onboarded USING (repo);
