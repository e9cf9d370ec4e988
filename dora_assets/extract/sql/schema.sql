-- Extraction state (not data): where each API extraction got to, per repo and resource type.
-- Mutable by design, so it lives outside the append-only bronze schema.
CREATE SCHEMA IF NOT EXISTS extract;

-- One row per (source, repo, resource): the end of the latest window extracted, and the ETag
-- of the resource's listing (a 304 answer then means nothing changed, at no rate-limit cost).
CREATE TABLE IF NOT EXISTS extract.cursors (
    source       VARCHAR     NOT NULL,
    repo         VARCHAR     NOT NULL,
    resource     VARCHAR     NOT NULL,
    extracted_to TIMESTAMPTZ NOT NULL,
    etag         VARCHAR,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, repo, resource)
);
