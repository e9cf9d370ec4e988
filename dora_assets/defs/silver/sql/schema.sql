-- Silver: normalised facts derived from bronze by SQL. Every table can be rebuilt from bronze
-- at any time (replay); each refresh replaces the rows of its time window in one transaction.
CREATE SCHEMA IF NOT EXISTS silver;

-- The repo of a GitHub payload, parsed with json_transform into a struct with a repository
-- field (document): repository.full_name, else repository.name (Four Keys'
-- issues), else 'unknown' (Four Keys' minimal pushes and statuses carry no repository).
CREATE OR REPLACE MACRO silver.github_repo(document) AS
    coalesce(document.repository.full_name, document.repository.name, 'unknown');

-- Times as senders write them: ISO-8601 (GitHub, Jira's -0800 offsets, PagerDuty), and
-- GitLab's "2021-04-28 21:50:00 +0200" / "2013-12-03 17:23:34 UTC".
CREATE OR REPLACE MACRO silver.event_time(text) AS
    coalesce(try_cast(text AS TIMESTAMPTZ), try_strptime(text, '%Y-%m-%d %H:%M:%S %z')::TIMESTAMPTZ);

-- A configured map (DoraConfig.silver_params: lower-cased keys and their values as two lists)
-- looked up case-insensitively; NULL when the key is not mapped.
CREATE OR REPLACE MACRO silver.lookup(keys, map_values, key) AS map_values[list_position(keys, lower(key))];

-- The deliveries a mapping reads: those of one event type of one source (window_events) or of
-- one source (window_source_events) whose received_at lies in the range window_deliveries.sql
-- found for the window being refreshed. One equality per scan: DuckDB then fetches the (large)
-- payloads of those rows only, where an IN list would only skip row groups and fetch every
-- payload in the range; a mapping that reads two event types reads two scans (UNION ALL).
CREATE OR REPLACE MACRO silver.window_events(source_name, event_type_name) AS TABLE
    SELECT *
    FROM bronze.raw_events
    WHERE source = source_name
      AND event_type = event_type_name
      AND received_at BETWEEN getvariable('window_received_from') AND getvariable('window_received_until');

CREATE OR REPLACE MACRO silver.window_source_events(source_name) AS TABLE
    SELECT *
    FROM bronze.raw_events
    WHERE source = source_name
      AND received_at BETWEEN getvariable('window_received_from') AND getvariable('window_received_until');

-- Whether an author (a login or name) is a bot: it matches one of the LIKE patterns (escape '\')
-- of config lead_time.bot_authors (DoraConfig.silver_params: $bot_author_patterns).
CREATE OR REPLACE MACRO silver.is_bot(author, patterns) AS
    coalesce(list_bool_or(list_transform(patterns, LAMBDA pattern: lower(author) LIKE pattern ESCAPE '\')), FALSE);

-- OWNER/NAME of a git URL (https://host/owner/name.git, git@host:owner/name.git); NULL otherwise.
CREATE OR REPLACE MACRO silver.repo_from_url(url) AS
    nullif(regexp_extract(url, '[:/]([^/:]+/[^/]+?)(?:\.git)?/?$', 1), '');

-- One row per push delivery: the branch it moved and the commits it carried.
CREATE TABLE IF NOT EXISTS silver.pushes (
    source       VARCHAR     NOT NULL,
    repo         VARCHAR     NOT NULL,
    ref          VARCHAR,
    branch       VARCHAR,
    before_sha   VARCHAR,
    after_sha    VARCHAR     NOT NULL,
    pushed_at    TIMESTAMPTZ NOT NULL,
    commit_count INTEGER     NOT NULL,
    commits      STRUCT(change_id VARCHAR, time_created TIMESTAMPTZ)[] NOT NULL,
    delivery_id  VARCHAR     NOT NULL
);

-- One row per commit of each row of silver.pushes (its commits, flattened), written with it
-- by pushes.sql in the same transaction. changes.sql and deployment_changes.sql read it to find
-- every push of a commit without unnesting every push of history. Not an asset of its own.
CREATE TABLE IF NOT EXISTS silver.pushed_commits (
    delivery_id  VARCHAR     NOT NULL,
    source       VARCHAR     NOT NULL,
    repo         VARCHAR     NOT NULL,
    branch       VARCHAR,
    pushed_at    TIMESTAMPTZ NOT NULL,
    change_id    VARCHAR,
    time_created TIMESTAMPTZ,
    parent_ids   VARCHAR[],    -- the commit's parents as far as the push or the API tells (pushes.sql)
    tracked_since TIMESTAMPTZ, -- API history: from when the repo was onboarded (NULL: tracked as it happened)
    author       VARCHAR       -- the commit's author: GitHub login (username), else name
);

-- One row per (repo, commit): the commit's earliest time over every push that carried it.
CREATE TABLE IF NOT EXISTS silver.changes (
    source       VARCHAR     NOT NULL,
    repo         VARCHAR     NOT NULL,
    change_id    VARCHAR     NOT NULL,
    time_created TIMESTAMPTZ NOT NULL,
    branch       VARCHAR
);

-- One row per successful production deployment (its earliest success).
CREATE TABLE IF NOT EXISTS silver.deployments (
    source        VARCHAR     NOT NULL,
    repo          VARCHAR     NOT NULL,
    deploy_id     VARCHAR     NOT NULL,
    environment   VARCHAR     NOT NULL,
    commit_sha    VARCHAR     NOT NULL,
    ref           VARCHAR,
    time_deployed TIMESTAMPTZ NOT NULL,
    delivery_id   VARCHAR     NOT NULL
);

-- One row per (deployment, change) that the deployment shipped to production first.
CREATE TABLE IF NOT EXISTS silver.deployment_changes (
    deploy_id       VARCHAR     NOT NULL,
    change_id       VARCHAR     NOT NULL,
    source          VARCHAR     NOT NULL,
    repo            VARCHAR     NOT NULL,
    time_created    TIMESTAMPTZ NOT NULL,
    time_deployed   TIMESTAMPTZ NOT NULL,
    lead_time_hours DOUBLE      NOT NULL,   -- time_deployed - lead_time_start
    lead_time_start TIMESTAMPTZ,            -- the commit's time, or its pull request's first commit
    start_source    VARCHAR,                -- where lead_time_start comes from (README: "Lead time")
    pull_request_id VARCHAR,                -- the merged request this commit merged or belongs to
    excluded_reason VARCHAR,                -- NULL: counts in lead time; else why it does not
    author          VARCHAR,                -- its pull request's author, else the commit's
    is_bot          BOOLEAN,                -- that author is a bot (config lead_time.bot_authors)
    time_opened     TIMESTAMPTZ,            -- for a pull request's merge or squash commit: when it was opened,
    time_first_review TIMESTAMPTZ,          -- first reviewed by someone other than its author (or NULL),
    time_merged     TIMESTAMPTZ             -- and merged (README: "Where the time goes")
);

-- One row per incident, as of its latest known state.
CREATE TABLE IF NOT EXISTS silver.incidents (
    source         VARCHAR     NOT NULL,
    repo           VARCHAR     NOT NULL,
    incident_id    VARCHAR     NOT NULL,
    title          VARCHAR,
    time_created   TIMESTAMPTZ NOT NULL,
    time_resolved  TIMESTAMPTZ,
    root_cause_sha VARCHAR,
    url            VARCHAR,
    reports        VARCHAR[]
);

-- One row per merged pull request (GitHub) or merge request (GitLab).
CREATE TABLE IF NOT EXISTS silver.pull_requests (
    source           VARCHAR     NOT NULL,
    repo             VARCHAR     NOT NULL,
    pull_request_id  VARCHAR     NOT NULL,
    title            VARCHAR,
    target_branch    VARCHAR,
    time_opened      TIMESTAMPTZ,
    time_merged      TIMESTAMPTZ NOT NULL,
    merge_commit_sha VARCHAR,
    url              VARCHAR,
    delivery_id      VARCHAR     NOT NULL,
    squash_commit_sha VARCHAR,
    source_branch    VARCHAR,
    commit_ids       VARCHAR[],
    first_commit_at  TIMESTAMPTZ,
    author           VARCHAR
);

-- One row per review or comment on a merged or open request (GitHub, GitLab).
CREATE TABLE IF NOT EXISTS silver.pull_request_reviews (
    source          VARCHAR     NOT NULL,
    repo            VARCHAR     NOT NULL,
    pull_request_id VARCHAR     NOT NULL,
    reviewer        VARCHAR,
    kind            VARCHAR     NOT NULL,
    state           VARCHAR,
    time_reviewed   TIMESTAMPTZ NOT NULL,
    by_author       BOOLEAN     NOT NULL,
    delivery_id     VARCHAR     NOT NULL
);

-- One row per delivery of a mapped event type that a silver table could not use (a known
-- event lacking a field the mapping needs), with the reason: quarantine at silver level.
CREATE TABLE IF NOT EXISTS silver.rejected_events (
    target_table VARCHAR     NOT NULL,
    source       VARCHAR     NOT NULL,
    event_type   VARCHAR     NOT NULL,
    delivery_id  VARCHAR     NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    reason       VARCHAR     NOT NULL
);
