-- Bronze: the immutable raw history. Rows are only ever appended; no code path updates or
-- deletes them. Each ingest batch commits its rows and its ledger entries in one transaction.
CREATE SCHEMA IF NOT EXISTS bronze;

CREATE SEQUENCE IF NOT EXISTS bronze.ingest_id_seq START 1;

-- One row per delivery: the envelope's fields and the sender's payload. A delivery is its
-- (source, delivery_id): an id is the sender's and unique only within its source (GitLab's and
-- Jira's id headers are not signed, Jenkins ids are predictable), so the same id from two sources
-- is two deliveries and the same id twice from one source is a redelivery (bronze.duplicates).
-- Payloads are stored with zstd: webhook bodies are large, repetitive JSON documents, which zstd
-- stores about 9x smaller than DuckDB's default string compression (dict_fsst) and writes about
-- 10x faster at each checkpoint (bench/README.md).
CREATE TABLE IF NOT EXISTS bronze.raw_events (
    delivery_id      VARCHAR     NOT NULL,
    source           VARCHAR     NOT NULL,
    event_type       VARCHAR     NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    payload          JSON        NOT NULL USING COMPRESSION zstd,
    landing_file     VARCHAR     NOT NULL,
    line_number      BIGINT,
    known_event_type BOOLEAN     NOT NULL,
    ingest_id        BIGINT      NOT NULL,
    ingested_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, delivery_id)
);

-- One row per record (file, or line of an .ndjson/.jsonl file) that could not be landed.
CREATE TABLE IF NOT EXISTS bronze.quarantine (
    landing_file   VARCHAR     NOT NULL,
    line_number    BIGINT,
    reason_code    VARCHAR     NOT NULL,
    reason         VARCHAR     NOT NULL,
    raw            VARCHAR,
    delivery_id    VARCHAR,
    ingest_id      BIGINT      NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);

-- One row per record skipped because its (source, delivery_id) had already landed (redelivery).
-- source is NULL on rows written before it was recorded (then the id had landed from some source).
CREATE TABLE IF NOT EXISTS bronze.duplicates (
    delivery_id        VARCHAR     NOT NULL,
    landing_file       VARCHAR     NOT NULL,
    line_number        BIGINT,
    first_landing_file VARCHAR,
    ingest_id          BIGINT      NOT NULL,
    skipped_at         TIMESTAMPTZ NOT NULL,
    source             VARCHAR
);

-- The ledger: one row per (landing file, content version) that ingestion has accounted for.
-- inode and changed_ns (the file's ctime) are what the scan saw when it was read (NULL on rows
-- written before they were recorded): a file at the ledger's size and modification time but with
-- another inode or ctime may have been replaced (renamed over) with other content, so it is
-- hashed again rather than taken as unchanged.
CREATE TABLE IF NOT EXISTS bronze.landing_files (
    landing_file        VARCHAR     NOT NULL,
    content_sha256      VARCHAR     NOT NULL,
    size_bytes          BIGINT      NOT NULL,
    modified_at         TIMESTAMPTZ NOT NULL,
    status              VARCHAR     NOT NULL,
    records_seen        BIGINT      NOT NULL,
    records_landed      BIGINT      NOT NULL,
    records_quarantined BIGINT      NOT NULL,
    records_duplicate   BIGINT      NOT NULL,
    ingest_id           BIGINT      NOT NULL,
    ingested_at         TIMESTAMPTZ NOT NULL,
    inode               BIGINT,
    changed_ns          BIGINT,
    PRIMARY KEY (landing_file, content_sha256)
);

-- Stamps (inode, ctime) at which a file in the ledger was hashed again and found to hold content
-- the ledger has accounted for (chmod, a hard link, a restore from backup, or a replacement with
-- the same bytes move them): the file is taken as unchanged at that stamp from then on, without
-- hashing it on every run. Append-only, like the rest of bronze.
CREATE TABLE IF NOT EXISTS bronze.landing_file_stamps (
    landing_file   VARCHAR     NOT NULL,
    content_sha256 VARCHAR     NOT NULL,
    size_bytes     BIGINT      NOT NULL,
    modified_at    TIMESTAMPTZ NOT NULL,
    inode          BIGINT      NOT NULL,
    changed_ns     BIGINT      NOT NULL,
    checked_at     TIMESTAMPTZ NOT NULL
);

-- The walk's memory: one row each time a leaf folder of the landing folder (one holding no
-- sub-folder) settles, that is when every file in it is in the ledger at its current size and
-- modification time and its own stamp (mtime, ctime, inode) has not moved for the settling age.
-- While a folder's stamp stays as recorded, nothing was added to, removed from or renamed in it,
-- so ingestion and the backlog check do not list it again (ingestion/landing.py). Append-only like
-- the rest of bronze: a folder that changes and settles again gets a new row; the latest counts.
CREATE TABLE IF NOT EXISTS bronze.landing_folders (
    folder      VARCHAR     NOT NULL,
    modified_ns BIGINT      NOT NULL,
    changed_ns  BIGINT      NOT NULL,
    inode       BIGINT      NOT NULL,
    files       BIGINT      NOT NULL,
    settled_at  TIMESTAMPTZ NOT NULL
);

-- A derived index of raw_events (one row per raw_events row, written in the same transaction),
-- so that silver can find the deliveries a time window needs without parsing every payload of
-- history: when its event times lie (earliest_at/latest_at: the earliest and latest of
-- received_at and every event time silver takes from the delivery, see raw_events_index_rows)
-- and the silver object it belongs to (object_key: a deployment, an incident report or a merge
-- request; NULL for pushes and events silver does not group). Like raw_events it is only
-- appended to; it can always be recomputed from raw_events (bronze.raw_events_index_rows).
CREATE TABLE IF NOT EXISTS bronze.raw_events_index (
    delivery_id VARCHAR     NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    earliest_at TIMESTAMPTZ NOT NULL,
    latest_at   TIMESTAMPTZ NOT NULL,
    object_key  VARCHAR
);

-- The index rows of the deliveries in the table named by `deliveries` (delivery_id, source,
-- event_type, received_at, payload), with one JSON parse per payload. Times parse as
-- silver.event_time does (ISO-8601, or GitLab's "2021-04-28 21:50:00 +0200"). The event times
-- are the push and commit times (pushes, changes), deployment and build times (deployments),
-- incident and issue creation (incidents), merge times (pull_requests) and the envelope's
-- received_at (rejects); object_key is the deploy_id silver groups a deployment's statuses by,
-- the (source, repo, number) of an incident report, or the (source, number) of a merge request.
-- A silver SQL that reads a new time or groups by a new key must add it here (and bump the
-- migration in dora_assets/sql.py that recomputes the index).
CREATE OR REPLACE MACRO bronze.raw_events_index_rows(deliveries) AS TABLE
WITH fields AS (
    SELECT
        delivery_id,
        source,
        event_type,
        received_at,
        json_extract_string(payload, [
            '$.head_commit.timestamp',         -- 1
            '$.deployment_status.created_at',  -- 2
            '$.deployment_status.updated_at',  -- 3
            '$.issue.created_at',              -- 4
            '$.pull_request.created_at',       -- 5
            '$.pull_request.merged_at',        -- 6
            '$.workflow_run.updated_at',       -- 7
            '$.release.published_at',          -- 8
            '$.status_changed_at',             -- 9
            '$.object_attributes.created_at',  -- 10
            '$.object_attributes.merged_at',   -- 11
            '$.event.occurred_at',             -- 12
            '$.event.data.created_at',         -- 13
            '$.issue.fields.created',          -- 14
            '$.object_attributes.updated_at',  -- 15
            '$.repository.pushed_at',          -- 16
            '$.build.timestamp',               -- 17
            '$.build.duration',                -- 18
            '$.timestamp',                     -- 19
            '$.deployment.id',                 -- 20
            '$.deployment_status.id',          -- 21
            '$.workflow_run.id',               -- 22
            '$.release.id',                    -- 23
            '$.deployment_id',                 -- 24
            '$.url',                           -- 25
            '$.name',                          -- 26
            '$.build.number',                  -- 27
            '$.issue.number',                  -- 28
            '$.repository.full_name',          -- 29
            '$.repository.name',               -- 30
            '$.project.path_with_namespace',   -- 31
            '$.object_attributes.iid',         -- 32
            '$.event.data.id',                 -- 33
            '$.issue.key',                     -- 34
            '$.pull_request.number',           -- 35
            '$.object_kind'                    -- 36
        ]) AS f,
        CASE WHEN event_type IN ('push', 'api:push', 'tag_push', 'Push Hook', 'Tag Push Hook')
             THEN json_extract_string(payload, '$.commits[*].timestamp') END AS commit_times
    FROM query_table(deliveries)
),
times AS (
    SELECT
        *,
        list_filter(
            [received_at,
             CASE WHEN event_type IN ('push', 'api:push') THEN to_timestamp(try_cast(f[16] AS BIGINT)) END,
             CASE WHEN source = 'jenkins' THEN to_timestamp(try_cast(f[17] AS BIGINT) / 1000) END,
             CASE WHEN source = 'jenkins'
                  THEN to_timestamp((try_cast(f[17] AS BIGINT) + try_cast(f[18] AS BIGINT)) / 1000) END,
             CASE WHEN source = 'jira' THEN to_timestamp(try_cast(f[19] AS BIGINT) / 1000) END]
            || list_transform(
                f[1:15] || coalesce(commit_times, []),
                lambda text: coalesce(try_cast(text AS TIMESTAMPTZ), try_strptime(text, '%Y-%m-%d %H:%M:%S %z')::TIMESTAMPTZ)
            ),
            lambda moment: moment IS NOT NULL
        ) AS event_times
    FROM fields
)
SELECT
    delivery_id,
    received_at,
    list_min(event_times) AS earliest_at,
    list_max(event_times) AS latest_at,
    CASE
        WHEN source = 'github' AND event_type IN ('deployment_status', 'api:deployment_status')
            THEN 'deployment:' || coalesce(f[20], f[21], delivery_id)
        WHEN source = 'github' AND event_type = 'workflow_run' THEN 'deployment:workflow_run:' || f[22]
        WHEN source = 'github' AND event_type = 'release' THEN 'deployment:release:' || f[23]
        WHEN source = 'gitlab' AND f[36] = 'deployment' THEN 'deployment:gitlab:' || f[24]
        WHEN source = 'jenkins' AND event_type IN ('build.completed', 'build.finalized') THEN
            'deployment:jenkins:'
            || coalesce(nullif(regexp_replace(trim(f[25], '/'), '(^|/)job/', '\1', 'g'), ''), f[26]) || '#' || f[27]
        WHEN source = 'github' AND event_type IN ('issues', 'api:issues')
            THEN 'incident:github:' || coalesce(f[29], f[30], 'unknown') || '#' || f[28]
        WHEN source = 'gitlab' AND f[36] = 'issue' THEN 'incident:gitlab:' || coalesce(f[31], 'unknown') || '#' || f[32]
        WHEN source = 'pagerduty' AND starts_with(event_type, 'incident.') THEN 'incident:pagerduty:' || f[33]
        WHEN source = 'jira' THEN 'incident:jira:' || f[34]
        WHEN source = 'github' AND event_type IN ('pull_request', 'api:pull_request') THEN 'pull_request:github:' || f[35]
        WHEN source = 'gitlab' AND f[36] = 'merge_request' THEN 'pull_request:gitlab:' || f[32]
    END AS object_key
FROM times;

-- The transform ledger: one row per ingest batch that landed deliveries, written in that batch's
-- own transaction, naming the days of silver (and so of gold) its deliveries can change: from
-- first_day (the batch's affected_from, see ingestion/sql/event_day_span.sql) to last_day (the
-- last day any delivery in bronze has an event on, at most the day it was landed, or first_day when
-- later: see ingestion/sql/land_pending_transform.sql).
-- A row is pending until a dora_transform run that rebuilt every silver table over those days,
-- and then gold, having read bronze through that batch, records itself in gold.transform_runs
-- (dora_assets/transform_ledger.py). Append-only like the rest of bronze: clearing appends
-- there, never deletes here. A killed or failed transform leaves its rows pending, so the next
-- ingest reports them in its affected_from and every refresh, sensor tick and schedule covers them.
CREATE TABLE IF NOT EXISTS bronze.pending_transforms (
    ingest_id   BIGINT      NOT NULL PRIMARY KEY,
    first_day   DATE        NOT NULL,
    last_day    DATE        NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
