-- The columns every source's file under defs/silver/sql/pull_request_reviews/ fills (INSERT ... BY
-- NAME; a column a source cannot fill stays NULL): one candidate row per delivery of a review or
-- comment on a merge or pull request, before repo aliases and rejects, which
-- defs/silver/sql/pull_request_reviews.sql applies to all of them. Runs after
-- window_deliveries.sql, in the window's transaction.
CREATE OR REPLACE TEMP TABLE source_candidates (
    source          VARCHAR,
    event_type      VARCHAR,
    delivery_id     VARCHAR,
    received_at     TIMESTAMPTZ,
    repo            VARCHAR,
    pull_request_id VARCHAR,      -- NULL rejects the delivery
    reviewer        VARCHAR,      -- who reviewed or commented (login, username)
    kind            VARCHAR,      -- review, review_comment, comment, note
    state           VARCHAR,      -- a review's state (approved, changes_requested, commented)
    time_reviewed   TIMESTAMPTZ,  -- NULL rejects the delivery
    by_author       BOOLEAN       -- the reviewer is the request's author
);
