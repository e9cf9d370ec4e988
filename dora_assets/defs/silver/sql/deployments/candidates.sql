-- The columns every source's file under defs/silver/sql/deployments/ fills (INSERT ... BY NAME; a
-- column a source cannot fill stays NULL): one candidate row per success of a deployment in a
-- production environment (each source decides what production is), before repo aliases and
-- rejects, which defs/silver/sql/deployments.sql applies to all of them. Several rows of one deploy_id
-- (its statuses) merge there into the earliest. Runs after window_deliveries.sql, in the window's
-- transaction.
CREATE OR REPLACE TEMP TABLE source_candidates (
    source        VARCHAR,
    event_type    VARCHAR,
    repo          VARCHAR,
    deploy_id     VARCHAR,      -- unprefixed for GitHub deployments (CONTRACT 4); '<kind>:<id>' for the others
    environment   VARCHAR,
    commit_sha    VARCHAR,      -- lower-case; NULL (or not hex) rejects the success
    ref           VARCHAR,
    time_deployed TIMESTAMPTZ,
    delivery_id   VARCHAR,
    received_at   TIMESTAMPTZ
);
