-- Gold: the DORA metrics, computed by SQL from silver.
CREATE SCHEMA IF NOT EXISTS gold;

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
    benchmark                    VARCHAR NOT NULL
);
