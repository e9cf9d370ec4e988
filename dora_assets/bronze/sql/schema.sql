-- Bronze: the immutable raw history. Rows are only ever appended; no code path updates or
-- deletes them. Each ingest batch commits its rows and its ledger entries in one transaction.
CREATE SCHEMA IF NOT EXISTS bronze;

CREATE SEQUENCE IF NOT EXISTS bronze.ingest_id_seq START 1;

-- One row per delivery (delivery_id is unique): the envelope's fields and the sender's payload.
CREATE TABLE IF NOT EXISTS bronze.raw_events (
    delivery_id      VARCHAR     NOT NULL PRIMARY KEY,
    source           VARCHAR     NOT NULL,
    event_type       VARCHAR     NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL,
    payload          JSON        NOT NULL,
    landing_file     VARCHAR     NOT NULL,
    line_number      BIGINT,
    known_event_type BOOLEAN     NOT NULL,
    ingest_id        BIGINT      NOT NULL,
    ingested_at      TIMESTAMPTZ NOT NULL
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

-- One row per record skipped because its delivery_id had already landed (redelivery).
CREATE TABLE IF NOT EXISTS bronze.duplicates (
    delivery_id        VARCHAR     NOT NULL,
    landing_file       VARCHAR     NOT NULL,
    line_number        BIGINT,
    first_landing_file VARCHAR,
    ingest_id          BIGINT      NOT NULL,
    skipped_at         TIMESTAMPTZ NOT NULL
);

-- The ledger: one row per (landing file, content version) that ingestion has accounted for.
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
    PRIMARY KEY (landing_file, content_sha256)
);
