-- Per-batch scratch tables (connection-local, dropped with the connection).
CREATE OR REPLACE TEMP TABLE batch_files (
    file_order     INTEGER NOT NULL,
    landing_file   VARCHAR NOT NULL,
    path           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    size_bytes     BIGINT  NOT NULL,
    modified_at    TIMESTAMPTZ NOT NULL,
    content_sha256 VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,
    problem_code   VARCHAR,
    problem        VARCHAR,
    raw_preview    VARCHAR,
    inode          BIGINT,
    changed_ns     BIGINT
);
CREATE OR REPLACE TEMP TABLE staged_records (
    landing_file  VARCHAR NOT NULL,
    line_number   BIGINT,
    record_text   VARCHAR,
    reject_code   VARCHAR,
    reject_reason VARCHAR
);
DROP TABLE IF EXISTS ingest_reject_errors;
DROP TABLE IF EXISTS ingest_reject_scans;
-- A JSON value's type as a person would name it in an error message.
CREATE OR REPLACE TEMP MACRO json_kind(duckdb_type) AS CASE
    WHEN duckdb_type IN ('UBIGINT', 'BIGINT', 'HUGEINT', 'DOUBLE') THEN 'number'
    WHEN duckdb_type = 'VARCHAR' THEN 'string'
    ELSE lower(duckdb_type)
END;
