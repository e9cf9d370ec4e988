-- The columns every source's file under defs/silver/sql/pushes/ fills (INSERT ... BY NAME; a column a
-- source cannot fill stays NULL): one candidate row per push delivery, before repo aliases and
-- rejects, which defs/silver/sql/pushes.sql applies to all of them. Runs after window_deliveries.sql,
-- in the window's transaction.
CREATE OR REPLACE TEMP TABLE source_candidates (
    source           VARCHAR,
    event_type       VARCHAR,
    repo             VARCHAR,
    ref              VARCHAR,
    before_sha       VARCHAR,
    after_sha        VARCHAR,      -- lower-case; NULL rejects the push
    pushed_at        TIMESTAMPTZ,
    -- The commits as the body lists them (oldest first). parents: the commit's parents when the body
    -- names them (the API extractor's commits do; webhook pushes do not: pushes.sql then chains the
    -- listed commits from the push's before sha).
    commit_documents STRUCT(id VARCHAR, "timestamp" VARCHAR, parents VARCHAR[])[],
    delivery_id      VARCHAR,
    received_at      TIMESTAMPTZ,
    -- API history: from when the repo's history was onboarded (NULL: from its creation, or a
    -- webhook push, which is tracked as it happens). See deployment_changes.sql.
    tracked_since    TIMESTAMPTZ,
    -- The listed commits' authors (login, else name), in the order of commit_documents.
    commit_authors   VARCHAR[]
);
