-- Gold: the DORA metrics, computed by SQL from silver.
CREATE SCHEMA IF NOT EXISTS gold;

-- A figure's tier under a benchmark's cut-offs (dora_assets/benchmarks.py TierBounds.tier):
-- at_least for figures where more is better (deployments per week), at_most where less is.
CREATE OR REPLACE MACRO gold.tier_at_least(value, elite, high, medium) AS
    CASE WHEN value IS NULL THEN NULL WHEN value >= elite THEN 'elite' WHEN value >= high THEN 'high'
         WHEN value >= medium THEN 'medium' ELSE 'low' END;
CREATE OR REPLACE MACRO gold.tier_at_most(value, elite, high, medium) AS
    CASE WHEN value IS NULL THEN NULL WHEN value <= elite THEN 'elite' WHEN value <= high THEN 'high'
         WHEN value <= medium THEN 'medium' ELSE 'low' END;

-- The silver rows gold publishes (README: "Checks"). A wrong row is held back here, in its own
-- repo and period, instead of stopping every repo's gold; the silver checks report it at ERROR:
-- rows dated after latest_allowed (now plus the clock-skew tolerance) belong to no published
-- period yet (no_future_timestamps); a key that silver holds twice counts once
-- (unique_key_and_required_columns); and `held_back` marks a lead time or time to restore that
-- is negative beyond the tolerance, or an outlier the config excludes (plausible_lead_times,
-- plausible_restore_times). Held-back rows still count as changes and incidents, and gold shows
-- their number beside the figure (lead_times_held_back, restore_times_held_back). A shipped
-- commit with an excluded_reason (a pull request's own commit, counted with its merge commit) is
-- no change of its own: it is in no figure.
CREATE OR REPLACE MACRO gold.published_deployments(latest_allowed) AS TABLE
    SELECT * FROM silver.deployments
    WHERE time_deployed <= latest_allowed
    QUALIFY row_number() OVER (PARTITION BY deploy_id ORDER BY time_deployed, delivery_id) = 1;
CREATE OR REPLACE MACRO gold.published_lead_times(latest_allowed, skew_hours, exclude_outliers, outlier_hours) AS TABLE
    SELECT *, lead_time_hours < -skew_hours OR (exclude_outliers AND lead_time_hours > outlier_hours) AS held_back
    FROM silver.deployment_changes
    WHERE time_deployed <= latest_allowed AND excluded_reason IS NULL
    QUALIFY row_number() OVER (PARTITION BY repo, change_id ORDER BY time_deployed, deploy_id) = 1;
CREATE OR REPLACE MACRO gold.published_incidents(latest_allowed, skew_hours, exclude_outliers, outlier_hours) AS TABLE
    SELECT
        *,
        epoch(time_resolved - time_created) / 3600.0 AS restore_hours,
        coalesce(
            epoch(time_resolved - time_created) / 3600.0 < -skew_hours
            OR (exclude_outliers AND epoch(time_resolved - time_created) / 3600.0 > outlier_hours),
            FALSE
        ) AS held_back
    FROM silver.incidents
    WHERE time_created <= latest_allowed
    QUALIFY row_number() OVER (PARTITION BY source, repo, incident_id ORDER BY time_created) = 1;

-- The deployments that shipped the root cause of at least one incident (change failures). Root
-- causes may be abbreviated shas: match on the 7-character prefix, then the full prefix.
CREATE OR REPLACE MACRO gold.failed_deployments() AS TABLE
    SELECT DISTINCT shipped.deploy_id
    FROM silver.deployment_changes AS shipped
    JOIN (SELECT DISTINCT root_cause_sha FROM silver.incidents WHERE root_cause_sha IS NOT NULL) AS causes
      ON left(shipped.change_id, 7) = left(causes.root_cause_sha, 7)
     AND starts_with(shipped.change_id, causes.root_cause_sha);

-- Rework (DORA 2024's fifth metric): deployments made while one of their repo's incidents was
-- open (created <= deployed <= resolved; an unresolved incident counts as open for its first day,
-- up to as_of): unplanned deployments made because of an incident in production.
CREATE OR REPLACE MACRO gold.rework_deployments(as_of) AS TABLE
    SELECT DISTINCT d.deploy_id
    FROM silver.deployments AS d
    JOIN silver.incidents AS i
      ON i.repo = d.repo
     AND d.time_deployed >= i.time_created
     AND d.time_deployed <= coalesce(i.time_resolved, least(as_of, i.time_created + INTERVAL 1 DAY));

-- One row per (calendar month in UTC, repo), plus org-wide rows with repo = '*'.
CREATE TABLE IF NOT EXISTS gold.dora_monthly (
    month                        DATE    NOT NULL,
    repo                         VARCHAR NOT NULL,
    team                         VARCHAR NOT NULL,
    deployments                  BIGINT  NOT NULL,
    deploy_days                  BIGINT  NOT NULL,
    deployments_per_week         DOUBLE  NOT NULL,
    changes_deployed             BIGINT  NOT NULL,
    lead_time_median_hours       DOUBLE,
    failed_deployments           BIGINT  NOT NULL,
    change_failure_rate          DOUBLE,
    incidents                    BIGINT  NOT NULL,
    incidents_resolved           BIGINT  NOT NULL,
    time_to_restore_median_hours DOUBLE,
    deployment_frequency_tier    VARCHAR,
    lead_time_tier               VARCHAR,
    change_failure_rate_tier     VARCHAR,
    time_to_restore_tier         VARCHAR,
    benchmark                    VARCHAR NOT NULL,
    lead_time_p90_hours          DOUBLE,
    time_to_restore_p90_hours    DOUBLE,
    rework_deployments           BIGINT,
    rework_rate                  DOUBLE,
    lead_times_held_back         BIGINT,
    restore_times_held_back      BIGINT,
    changes_with_pull_request    BIGINT,
    lead_time_starts_branch_pushes BIGINT,
    lead_time_starts_api         BIGINT,
    lead_time_starts_pr_opened   BIGINT,
    bot_changes                  BIGINT,
    changes_before_tracking      BIGINT
);

-- One row per (ISO week starting Monday, UTC; repo), plus org-wide rows with repo = '*'.
CREATE TABLE IF NOT EXISTS gold.dora_weekly (
    week                         DATE    NOT NULL,
    repo                         VARCHAR NOT NULL,
    team                         VARCHAR NOT NULL,
    deployments                  BIGINT  NOT NULL,
    deploy_days                  BIGINT  NOT NULL,
    deployments_per_week         DOUBLE  NOT NULL,
    changes_deployed             BIGINT  NOT NULL,
    lead_time_median_hours       DOUBLE,
    failed_deployments           BIGINT  NOT NULL,
    change_failure_rate          DOUBLE,
    incidents                    BIGINT  NOT NULL,
    incidents_resolved           BIGINT  NOT NULL,
    time_to_restore_median_hours DOUBLE,
    deployment_frequency_tier    VARCHAR,
    lead_time_tier               VARCHAR,
    change_failure_rate_tier     VARCHAR,
    time_to_restore_tier         VARCHAR,
    benchmark                    VARCHAR NOT NULL,
    lead_time_p90_hours          DOUBLE,
    time_to_restore_p90_hours    DOUBLE,
    rework_deployments           BIGINT,
    rework_rate                  DOUBLE,
    lead_times_held_back         BIGINT,
    restore_times_held_back      BIGINT,
    changes_with_pull_request    BIGINT,
    lead_time_starts_branch_pushes BIGINT,
    lead_time_starts_api         BIGINT,
    lead_time_starts_pr_opened   BIGINT,
    bot_changes                  BIGINT,
    changes_before_tracking      BIGINT
);

-- One row per (rolling window of 30 or 90 days ending at the refresh; scope org, team or repo;
-- name): the figures over that window, for the dashboard's tiles and tables.
CREATE TABLE IF NOT EXISTS gold.dora_summary (
    window_days                  INTEGER     NOT NULL,
    window_start                 TIMESTAMPTZ NOT NULL,
    window_end                   TIMESTAMPTZ NOT NULL,
    scope                        VARCHAR     NOT NULL,
    name                         VARCHAR     NOT NULL,
    deployments                  BIGINT      NOT NULL,
    deploy_days                  BIGINT      NOT NULL,
    deployments_per_week         DOUBLE      NOT NULL,
    changes_deployed             BIGINT      NOT NULL,
    lead_time_median_hours       DOUBLE,
    lead_time_p90_hours          DOUBLE,
    failed_deployments           BIGINT      NOT NULL,
    change_failure_rate          DOUBLE,
    rework_deployments           BIGINT      NOT NULL,
    rework_rate                  DOUBLE,
    incidents                    BIGINT      NOT NULL,
    incidents_resolved           BIGINT      NOT NULL,
    time_to_restore_median_hours DOUBLE,
    time_to_restore_p90_hours    DOUBLE,
    deployment_frequency_tier    VARCHAR,
    lead_time_tier               VARCHAR,
    change_failure_rate_tier     VARCHAR,
    time_to_restore_tier         VARCHAR,
    benchmark                    VARCHAR     NOT NULL
);

-- One row per (grain: month, week, 30d or 90d; period_start; scope org, team or repo; name): the
-- median and p90 of each stage of the lead time of changes that merged a pull request
-- (lead_time_stages.sql).
CREATE TABLE IF NOT EXISTS gold.lead_time_stages (
    grain            VARCHAR NOT NULL,
    period_start     DATE    NOT NULL,
    scope            VARCHAR NOT NULL,
    name             VARCHAR NOT NULL,
    changes          BIGINT  NOT NULL,
    changes_reviewed BIGINT  NOT NULL,
    coding_p50_hours DOUBLE,
    coding_p90_hours DOUBLE,
    pickup_p50_hours DOUBLE,
    pickup_p90_hours DOUBLE,
    review_p50_hours DOUBLE,
    review_p90_hours DOUBLE,
    deploy_p50_hours DOUBLE,
    deploy_p90_hours DOUBLE
);

-- The other half of the transform ledger (bronze.pending_transforms): one row per dora_transform
-- run that rebuilt every silver table over the days first_day..last_day and then all of gold,
-- having read bronze through ingest batch through_ingest_id (the newest batch an ingest had
-- reported before the run began). It clears every pending row of an earlier or equal batch whose
-- days lie inside its window (windows_cleared of them were still pending). Written by the
-- run's last step, gold/transform_runs, after gold succeeded.
CREATE TABLE IF NOT EXISTS gold.transform_runs (
    run_id            VARCHAR     NOT NULL PRIMARY KEY,
    through_ingest_id BIGINT,
    first_day         DATE        NOT NULL,
    last_day          DATE        NOT NULL,
    windows_cleared   BIGINT      NOT NULL,
    finished_at       TIMESTAMPTZ NOT NULL
);
