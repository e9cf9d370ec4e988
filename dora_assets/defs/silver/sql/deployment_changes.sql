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
requests AS (
    SELECT
        *,
        lag(time_merged) OVER (PARTITION BY repo, source_branch ORDER BY time_merged, pull_request_id) AS previous_merge
    FROM silver.pull_requests
    SEMI JOIN (SELECT DISTINCT repo FROM shipped) AS window_repos USING (repo)
),
merges AS (
    -- The shipped commits that merged a request (its merge or squash commit): one request each.
    SELECT shipped.repo, shipped.deploy_id, shipped.change_id, requests.*  EXCLUDE (repo)
    FROM shipped
    JOIN requests
      ON requests.repo = shipped.repo
     AND shipped.change_id IN (requests.merge_commit_sha, requests.squash_commit_sha)
    QUALIFY row_number() OVER (
        PARTITION BY shipped.repo, shipped.change_id ORDER BY requests.time_merged, requests.pull_request_id
    ) = 1
),
branch_commits AS (
    -- Commits pushed to a merged request's source branch while it was the request's.
    SELECT merges.repo, merges.change_id AS merge_id, pushed.change_id, pushed.time_created
    FROM merges
    JOIN silver.pushed_commits AS pushed
      ON pushed.repo = merges.repo
     AND pushed.branch = merges.source_branch
     AND pushed.pushed_at <= merges.time_merged
     AND (merges.previous_merge IS NULL OR pushed.pushed_at > merges.previous_merge)
    WHERE pushed.change_id IS NOT NULL
),
starts AS (
    SELECT
        merges.repo,
        merges.change_id,
        merges.deploy_id,
        merges.pull_request_id,
        merges.author,
        merges.time_opened,
        merges.time_merged,
        CASE
            WHEN branch.first_commit_at IS NOT NULL THEN 'pull_request_branch_pushes'
            WHEN merges.first_commit_at IS NOT NULL THEN 'pull_request_commits_api'
            WHEN merges.time_opened IS NOT NULL THEN 'pull_request_opened'
        END AS start_source,
        coalesce(branch.first_commit_at, merges.first_commit_at, merges.time_opened) AS request_start,
        list_distinct(flatten([coalesce(branch.commit_ids, []), coalesce(merges.commit_ids, [])])) AS member_ids
    FROM merges
    LEFT JOIN (
        SELECT repo, merge_id, min(time_created) AS first_commit_at, list(DISTINCT change_id) AS commit_ids
        FROM branch_commits
        GROUP BY ALL
    ) AS branch
      ON branch.repo = merges.repo AND branch.merge_id = merges.change_id
),
first_reviews AS (
    -- A merged request's first review or comment before it merged, by someone other than its
    -- author and no bot: where its pickup time ends.
    SELECT merges.repo, merges.change_id, min(reviews.time_reviewed) AS time_first_review
    FROM merges
    JOIN silver.pull_request_reviews AS reviews
      ON reviews.source = merges.source
     AND reviews.repo = merges.repo
     AND reviews.pull_request_id = merges.pull_request_id
     AND reviews.time_reviewed <= merges.time_merged
    WHERE NOT reviews.by_author AND NOT silver.is_bot(reviews.reviewer, $bot_author_patterns)
    GROUP BY ALL
),
first_deployments AS (
    -- Each repo's first known production deployment.
    SELECT repo, arg_min(deploy_id, (time_deployed, deploy_id)) AS deploy_id
    FROM silver.deployments
    SEMI JOIN (SELECT DISTINCT repo FROM shipped) AS window_repos USING (repo)
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
    SEMI JOIN (SELECT DISTINCT repo FROM shipped) AS window_repos USING (repo)
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
        WHEN is_bot AND NOT $include_bots THEN 'bot'
    END AS excluded_reason
FROM shipped
LEFT JOIN starts USING (repo, change_id)
LEFT JOIN members USING (repo, change_id)
LEFT JOIN seen USING (repo, change_id)
LEFT JOIN first_reviews USING (repo, change_id)
LEFT JOIN first_deployments USING (repo)
LEFT JOIN onboarded USING (repo);
