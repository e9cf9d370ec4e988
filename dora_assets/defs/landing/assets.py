"""The extraction layer: history pulled from APIs into the landing folder (ELT: extraction only
lands raw envelopes; the landing sensor ingests them into bronze like any webhook drop)."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from dora_assets.extract.github import describe, extract_repo
from dora_assets.extract.github_client import GitHubApiError, GitHubClient
from dora_assets.metadata import column_schema
from dora_assets.resources import WAREHOUSE_POOL, Clock, DoraConfigResource, DuckDBWarehouse, LandingFolder
from dora_assets.windows import PARTITIONS_START, SINGLE_RUN, TimeWindow

GITHUB_API = AssetKey(["landing", "github_api"])
EXTRACT_JOB_NAME = "dora_extract_github"
# Extraction windows are days: `--since 2025-01-01` and a Dagster backfill of any range of days
# both map onto them, and a range runs as one run.
DAILY = DailyPartitionsDefinition(start_date=PARTITIONS_START.isoformat(), timezone="UTC", end_offset=1)


class GitHubExtraction(Config):
    repos: list[str] = Field(
        default_factory=list, description="Repos (OWNER/NAME) to extract; empty = config github.extract_repos."
    )


@asset(
    pool=WAREHOUSE_POOL,
    key=GITHUB_API,
    group_name="landing",  # key = where the data lives: files in the landing folder
    kinds={"github"},
    partitions_def=DAILY,
    backfill_policy=SINGLE_RUN,
    # The records of its NDJSON files: landing envelopes (CONTRACT section 2).
    metadata=column_schema(
        [
            ("source", "VARCHAR", "github."),
            ("event_type", "VARCHAR", "api:push, api:deployment_status, api:pull_request or api:issues."),
            (
                "delivery_id",
                "VARCHAR",
                "Derived from the object (api:commit:<repo>:<sha>, ...): re-extraction deduplicates.",
            ),
            ("received_at", "TIMESTAMPTZ", "When the extraction fetched it."),
            ("payload", "JSON", "The API object, shaped like the matching webhook body."),
        ]
    ),
)
def github_api(
    context: AssetExecutionContext,
    config: GitHubExtraction,
    github: GitHubClient,
    warehouse: DuckDBWarehouse,
    landing: LandingFolder,
    dora_config: DoraConfigResource,
    clock: Clock,
) -> MaterializeResult:
    """GitHub REST API history (deployments and their statuses, default-branch commits, merged
    pull requests, incident issues) of the configured repos for the run's days, landed as
    envelope files under landing/github-api/. Grain: one envelope per API object (a status, a
    commit, a merged PR, an issue state). Source: the GitHub REST API (GITHUB_TOKEN, GITHUB_API_URL)."""
    definitions = dora_config.load()
    repos = config.repos or definitions.github.extract_repos
    now = clock.now()
    window = TimeWindow.for_run(context)
    since, until = window.start, min(window.end, now)
    if not repos:
        context.log.warning("no repos to extract: set github.extract_repos in the config, or pass repos")
        return MaterializeResult(metadata={"repos": 0, "envelopes_landed": 0})
    extractions, failures = [], {}
    with github.session() as session, warehouse.get_connection() as connection:
        for repo in repos:
            try:
                extractions.append(
                    extract_repo(
                        session,
                        connection,
                        landing.directory(),
                        repo,
                        since,
                        until,
                        incident_labels=definitions.incident_labels,
                        now=now,
                    )
                )
            except GitHubApiError as error:
                context.log.error(f"github api {repo}: {error}")
                failures[repo] = str(error)
        stats = session.stats
    for extraction in extractions:
        for warning in extraction.warnings:
            context.log.warning(f"github api {extraction.repo}: {warning}")
    landed = sum(extraction.landed_total for extraction in extractions)
    metadata = {
        "repos": len(repos),
        "window_start": since.isoformat(),
        "window_end": until.isoformat(),
        "envelopes_landed": landed,
        "landing_files": sum(len(extraction.files) for extraction in extractions),
        "already_landed": sum(extraction.already_landed for extraction in extractions),
        "deployments_pending": sum(extraction.pending_deployments for extraction in extractions),
        "deployments_given_up": sum(len(extraction.given_up_deployments) for extraction in extractions),
        "api_requests": stats.requests,
        "api_retries": stats.retries,
        "api_not_modified": stats.not_modified,
        "rate_limit_wait_seconds": round(sum(stats.rate_limit_waits), 1),
        "rate_limit_remaining": stats.remaining if stats.remaining is not None else -1,
        "extractions": MetadataValue.json([describe(extraction) for extraction in extractions]),
    }
    if failures:
        # Whatever the other repos landed stays landed (and their cursors moved); the run fails
        # loudly for the repos that could not be extracted.
        raise Failure(
            description=f"{len(failures)} of {len(repos)} repos could not be extracted: "
            + "; ".join(f"{repo}: {reason}" for repo, reason in failures.items()),
            metadata={**metadata, "failed_repos": MetadataValue.json(failures)},
        )
    context.log.info(
        f"github api: {landed} envelopes landed for {len(repos)} repos, [{since:%Y-%m-%d}, {until:%Y-%m-%d})"
    )
    return MaterializeResult(metadata=metadata)
