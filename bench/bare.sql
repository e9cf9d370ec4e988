-- The reference ceiling, as the issue calibrates it ("reads 100k realistic deliveries and computes
-- the monthly gold figures in about 9 s"): one bare DuckDB script, no orchestration, no bronze,
-- no checks, no envelope validation. It reads every landing file once with DuckDB's JSON reader,
-- keeps the payload as JSON (as bronze must) and takes the fields the metrics need with ->>,
-- drops redeliveries; bare_figures.sql then computes gold.dora_monthly's figures with the GitHub
-- semantics of silver (deployments, changes, deployment_changes, incidents) and gold. bare_typed.sql is the
-- tighter ceiling that never materialises the payload. {landing} is replaced by the landing
-- folder; run with threads = 2, memory_limit = 1.5GB.
CREATE TEMP TABLE deliveries AS
SELECT *
FROM (
SELECT
    source, event_type, delivery_id, received_at,
    {
        ref: payload ->> '$.ref',
        "before": payload ->> '$.before',
        "after": payload ->> '$.after',
        action: payload ->> '$.action',
        repository: {full_name: payload ->> '$.repository.full_name', "name": payload ->> '$.repository.name',
                     pushed_at: payload ->> '$.repository.pushed_at'},
        head_commit: {id: payload ->> '$.head_commit.id', "timestamp": payload ->> '$.head_commit.timestamp'},
        commits: CASE WHEN event_type = 'push' THEN
            list_transform(json_extract(payload, '$.commits[*]'), LAMBDA c: {id: c ->> '$.id', "timestamp": c ->> '$.timestamp'})
        END,
        deployment: {id: payload ->> '$.deployment.id', sha: payload ->> '$.deployment.sha',
                     ref: payload ->> '$.deployment.ref', environment: payload ->> '$.deployment.environment'},
        deployment_status: {id: payload ->> '$.deployment_status.id', state: payload ->> '$.deployment_status.state',
                            environment: payload ->> '$.deployment_status.environment',
                            created_at: payload ->> '$.deployment_status.created_at',
                            updated_at: payload ->> '$.deployment_status.updated_at'},
        issue: CASE WHEN event_type = 'issues' THEN {
            "number": payload ->> '$.issue.number', title: payload ->> '$.issue.title',
            state: payload ->> '$.issue.state', body: payload ->> '$.issue.body',
            created_at: payload ->> '$.issue.created_at', updated_at: payload ->> '$.issue.updated_at',
            closed_at: payload ->> '$.issue.closed_at',
            labels: list_transform(json_extract_string(payload, '$.issue.labels[*].name'), LAMBDA l: {"name": l})
        } END,
        pull_request: CASE WHEN event_type = 'pull_request' THEN {
            "number": payload ->> '$.pull_request.number', merged: (payload ->> '$.pull_request.merged')::BOOLEAN,
            created_at: payload ->> '$.pull_request.created_at', updated_at: payload ->> '$.pull_request.updated_at',
            merged_at: payload ->> '$.pull_request.merged_at',
            merge_commit_sha: payload ->> '$.pull_request.merge_commit_sha',
            head: {ref: payload ->> '$.pull_request.head.ref'}, "user": {login: payload ->> '$.pull_request.user.login'}
        } END
    } AS payload
FROM read_json(
    ['{landing}/**/*.ndjson', '{landing}/**/*.json'],
    format = 'newline_delimited',
    columns = {source: 'VARCHAR', event_type: 'VARCHAR', delivery_id: 'VARCHAR', received_at: 'TIMESTAMPTZ', payload: 'JSON'}
)
)
QUALIFY row_number() OVER (PARTITION BY delivery_id) = 1;
