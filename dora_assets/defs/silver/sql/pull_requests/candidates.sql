-- The columns every source's file under defs/silver/sql/pull_requests/ fills (INSERT ... BY NAME; a
-- column a source cannot fill stays NULL): one candidate row per delivery of a merged request,
-- before repo aliases, rejects and the choice of each request's latest state, which
-- defs/silver/sql/pull_requests.sql applies to all of them. Runs after window_deliveries.sql, in the
-- window's transaction.
CREATE OR REPLACE TEMP TABLE source_candidates (
    source           VARCHAR,
    event_type       VARCHAR,
    delivery_id      VARCHAR,
    received_at      TIMESTAMPTZ,
    repo             VARCHAR,
    pull_request_id  VARCHAR,      -- NULL rejects the delivery
    title            VARCHAR,
    target_branch    VARCHAR,
    time_opened      TIMESTAMPTZ,
    time_merged      TIMESTAMPTZ,  -- NULL rejects the delivery
    merge_commit_sha VARCHAR,
    squash_commit_sha VARCHAR,     -- GitLab's squash commit, when the request was squashed
    source_branch    VARCHAR,      -- the branch the request merged from (its head)
    commit_ids       VARCHAR[],    -- the request's own commits, when the body lists them (API extractor)
    first_commit_at  TIMESTAMPTZ,  -- the earliest author time among them
    author           VARCHAR,      -- who opened it (GitHub login, GitLab username)
    url              VARCHAR,
    updated_at       TIMESTAMPTZ   -- orders a request's deliveries: the latest is its state
);
