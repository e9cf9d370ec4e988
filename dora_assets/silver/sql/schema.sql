-- Silver: normalised facts derived from bronze by SQL. Every table can be rebuilt from bronze
-- at any time (replay); each refresh replaces the rows of its time window in one transaction.
CREATE SCHEMA IF NOT EXISTS silver;

-- The repo a GitHub payload belongs to: repository.full_name, else repository.name (Four Keys'
-- issues), else 'unknown' (Four Keys' minimal pushes and statuses carry no repository).
CREATE OR REPLACE MACRO silver.github_repo(payload) AS
    coalesce(payload ->> '$.repository.full_name', payload ->> '$.repository.name', 'unknown');

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
    lead_time_hours DOUBLE      NOT NULL
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
    url            VARCHAR
);
