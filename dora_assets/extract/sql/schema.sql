-- Extraction state (not data): where each API extraction got to, per repo and resource type.
-- Mutable by design, so it lives outside the append-only bronze schema.
CREATE SCHEMA IF NOT EXISTS extract;

-- One row per (source, repo, resource): the end of the latest window extracted, and the ETag
-- of the resource's listing (a 304 answer then means nothing changed, at no rate-limit cost).
-- For commits, head_sha is the default branch's head when the last run that reached the present
-- ended: the next one extracts what the branch gained since (GET /compare/{head_sha}...{head}),
-- whatever the commits' own dates.
CREATE TABLE IF NOT EXISTS extract.cursors (
    source       VARCHAR     NOT NULL,
    repo         VARCHAR     NOT NULL,
    resource     VARCHAR     NOT NULL,
    extracted_to TIMESTAMPTZ NOT NULL,
    etag         VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL,
    head_sha     VARCHAR,
    PRIMARY KEY (source, repo, resource)
);

-- One row per deployment extracted without a final status (success, failure, error or
-- inactive) yet: every run re-reads its statuses until one is final, or until it is older than
-- the extractor's horizon (then it is dropped from here, with a warning and a count).
CREATE TABLE IF NOT EXISTS extract.pending_deployments (
    source        VARCHAR     NOT NULL,
    repo          VARCHAR     NOT NULL,
    deployment_id BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, repo, deployment_id)
);

-- One row per envelope the extractor has landed (written to a landing file), so that a later
-- run lands nothing twice, even before the landing files are ingested into bronze.
CREATE TABLE IF NOT EXISTS extract.landed_deliveries (
    delivery_id  VARCHAR     NOT NULL PRIMARY KEY,
    landing_file VARCHAR     NOT NULL,
    landed_at    TIMESTAMPTZ NOT NULL
);
