-- silver.pull_request_reviews from GitHub `pull_request_review` (submitted), `pull_request_review_comment`
-- (created) and `issue_comment` (created, on an issue that is a pull request). Columns:
-- pull_request_reviews/candidates.sql. (Their event times lie between the request's creation and
-- the delivery's receipt, both in bronze.raw_events_index: the window finds them.)
INSERT INTO source_candidates BY NAME
WITH documents AS (
    SELECT
        *,
        json_transform(payload, '{
            "action": "VARCHAR",
            "review": {"user": {"login": "VARCHAR"}, "submitted_at": "VARCHAR", "state": "VARCHAR"},
            "comment": {"user": {"login": "VARCHAR"}, "created_at": "VARCHAR"},
            "pull_request": {"number": "VARCHAR", "user": {"login": "VARCHAR"}},
            "issue": {"number": "VARCHAR", "user": {"login": "VARCHAR"}, "pull_request": {"url": "VARCHAR"}},
            "repository": {"full_name": "VARCHAR", "name": "VARCHAR"}
        }') AS p
    FROM (
        SELECT * FROM silver.window_events('github', 'pull_request_review')
        UNION ALL SELECT * FROM silver.window_events('github', 'pull_request_review_comment')
        UNION ALL SELECT * FROM silver.window_events('github', 'issue_comment')
    )
)
SELECT
    source,
    event_type,
    delivery_id,
    received_at,
    silver.github_repo(p) AS repo,
    coalesce(p.pull_request."number", p.issue."number") AS pull_request_id,
    coalesce(p.review."user".login, p.comment."user".login) AS reviewer,
    CASE event_type
        WHEN 'pull_request_review' THEN 'review'
        WHEN 'pull_request_review_comment' THEN 'review_comment'
        ELSE 'comment'
    END AS kind,
    lower(p.review.state) AS state,
    silver.event_time(coalesce(p.review.submitted_at, p.comment.created_at)) AS time_reviewed,
    coalesce(p.review."user".login, p.comment."user".login)
        = coalesce(p.pull_request."user".login, p.issue."user".login) AS by_author
FROM documents
WHERE (event_type = 'pull_request_review' AND p.action = 'submitted')
   OR (event_type = 'pull_request_review_comment' AND p.action = 'created')
   OR (event_type = 'issue_comment' AND p.action = 'created' AND p.issue.pull_request IS NOT NULL);
