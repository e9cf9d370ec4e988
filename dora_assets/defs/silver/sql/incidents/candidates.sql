-- The columns every source's file under defs/silver/sql/incidents/ fills (INSERT ... BY NAME; a column
-- a source cannot fill stays NULL): one candidate row per incident report (one source object, as
-- of its latest state), before repo aliases, root causes, correlation and rejects, which
-- defs/silver/sql/incidents.sql applies to all of them. A report without an id or a creation time is
-- rejected there. Runs after window_deliveries.sql, in the window's transaction.
CREATE OR REPLACE TEMP TABLE source_candidates (
    source          VARCHAR,
    event_type      VARCHAR,      -- of the delivery of the report's latest state
    delivery_id     VARCHAR,      -- likewise
    received_at     TIMESTAMPTZ,
    repo            VARCHAR,
    incident_id     VARCHAR,
    title           VARCHAR,
    time_created    TIMESTAMPTZ,
    time_resolved   TIMESTAMPTZ,  -- NULL while open
    root_cause_text VARCHAR,      -- the text searched for "root cause: <sha>"
    url             VARCHAR
);
