-- The reference ceiling: the same work as a refresh of the benchmark's history, done by one bare
-- DuckDB script with no orchestration, no bronze, no checks and no validation: read every
-- landing file once (the envelope and just the payload fields the metrics need, typed by
-- DuckDB's JSON reader) and drop redeliveries; bare_figures.sql then computes gold.dora_monthly's
-- figures with the GitHub semantics of silver (deployments, changes, deployment_changes, incidents) and gold.
-- {landing} is replaced by the landing folder; run with threads = 2, memory_limit = 1.5GB.
CREATE TEMP TABLE deliveries AS
SELECT *
FROM read_json(
    ['{landing}/**/*.ndjson', '{landing}/**/*.json'],
    format = 'newline_delimited',
    columns = {
        source: 'VARCHAR',
        event_type: 'VARCHAR',
        delivery_id: 'VARCHAR',
        received_at: 'TIMESTAMPTZ',
        payload: 'STRUCT(
            ref VARCHAR,
            "before" VARCHAR,
            "after" VARCHAR,
            action VARCHAR,
            repository STRUCT(full_name VARCHAR, "name" VARCHAR, pushed_at VARCHAR),
            head_commit STRUCT(id VARCHAR, "timestamp" VARCHAR),
            commits STRUCT(id VARCHAR, "timestamp" VARCHAR)[],
            deployment STRUCT(id VARCHAR, sha VARCHAR, ref VARCHAR, environment VARCHAR),
            deployment_status STRUCT(id VARCHAR, state VARCHAR, environment VARCHAR, created_at VARCHAR, updated_at VARCHAR),
            issue STRUCT("number" VARCHAR, title VARCHAR, state VARCHAR, body VARCHAR, created_at VARCHAR,
                         updated_at VARCHAR, closed_at VARCHAR, labels STRUCT("name" VARCHAR)[]),
            pull_request STRUCT("number" VARCHAR, merged BOOLEAN, created_at VARCHAR, updated_at VARCHAR,
                                merged_at VARCHAR, merge_commit_sha VARCHAR, head STRUCT(ref VARCHAR),
                                "user" STRUCT(login VARCHAR))
        )'
    }
)
QUALIFY row_number() OVER (PARTITION BY delivery_id) = 1;
