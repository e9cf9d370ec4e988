"""The registry of sources: for every sender, the event types it lands in bronze and which silver
tables it feeds, through which SQL file, from which of those event types.

A plain module (no Dagster, no imports from this package), read by everything that needs to know
what a source is:

- ``ingestion/envelope.py``: the event types that land with ``known_event_type = true``
  (``KNOWN_EVENT_TYPES``) and the sources an envelope may name;
- ``defs/silver/assets.py``: the SQL files that build a table, ``defs/silver/sql/<table>/<mapping>.sql``, in
  registry order, between the table's ``candidates.sql`` and ``defs/silver/sql/<table>.sql``;
- ``defs/silver/checks.py``: the event types that feed each table (``no_rejected_events``);
- ``receiver/deliveries.py``: the ping event a source sends when a webhook is set up;
- the tests, which hold the SQL files on disk, the event types they read, the README's "Sources"
  table and the bronze index to this registry (``test_source_registry.py``).

Adding a source is adding a ``Source`` here and its SQL files (README: "Adding a source").
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mapping:
    """One SQL file, ``defs/silver/sql/<table>/<name>.sql``: the candidate rows a silver table gets from
    one source's deliveries of ``event_types`` (their variants included, see ``Source.variants``).
    ``name`` is the source's name, or starts with it and ``_`` when a source has several files for
    one table (GitHub deployments: statuses, workflow runs, releases)."""

    table: str
    name: str
    event_types: tuple[str, ...]

    @property
    def sql_name(self) -> str:
        """The file's name for ``dora_assets.sql`` (layer ``silver``)."""
        return f"{self.table}/{self.name}"


@dataclass(frozen=True)
class Source:
    """A sender of webhook deliveries: its name in envelopes (``source``), its name in the docs, the
    mappings that read its deliveries into silver, and the event types that only land in bronze.

    ``variants`` names, per event type, the other event types that carry the same body and are read
    with it: GitLab's ``X-Gitlab-Event`` header names of an ``object_kind`` (``Push Hook`` for
    ``push``), the GitHub objects the API extractor lands shaped like webhooks (``api:push``)."""

    name: str
    title: str
    mappings: tuple[Mapping, ...]
    landed_only: tuple[str, ...] = ()
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ping_event: str | None = None

    def reads(self, mapping: Mapping) -> tuple[str, ...]:
        """Every bronze event type ``mapping`` reads: its event types and their variants."""
        return tuple(name for event in mapping.event_types for name in (event, *self.variants.get(event, ())))

    @property
    def known_event_types(self) -> frozenset[str]:
        """The event types that land as known: those the mappings read, those that only land, their
        variants, and the ping."""
        events = {event for mapping in self.mappings for event in mapping.event_types} | set(self.landed_only)
        variants = {variant for event in events for variant in self.variants.get(event, ())}
        return frozenset(events | variants | ({self.ping_event} if self.ping_event else set()))


# PagerDuty's v3 webhook events about an incident (event.event_type). The incidents mapping reads
# every one of them (defs/silver/sql/incidents/pagerduty.sql: event types starting with "incident.").
PAGERDUTY_INCIDENT_EVENTS = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.reassigned",
    "incident.escalated",
    "incident.delegated",
    "incident.priority_updated",
    "incident.annotated",
    "incident.responder.added",
    "incident.responder.replied",
    "incident.status_update_published",
    "incident.service_updated",
    "incident.conference_bridge.updated",
    "incident.custom_field_values.updated",
    "incident.incident_type.changed",
    "incident.workflow.started",
    "incident.workflow.completed",
)

SOURCES: tuple[Source, ...] = (
    Source(
        name="github",
        title="GitHub",
        mappings=(
            Mapping("pushes", "github", ("push",)),
            Mapping("deployments", "github_statuses", ("deployment_status",)),
            Mapping("deployments", "github_workflow_runs", ("workflow_run",)),
            Mapping("deployments", "github_releases", ("release",)),
            Mapping("incidents", "github", ("issues",)),
            Mapping("pull_requests", "github", ("pull_request",)),
            Mapping(
                "pull_request_reviews",
                "github",
                ("pull_request_review", "pull_request_review_comment", "issue_comment"),
            ),
        ),
        landed_only=(
            "deployment",
            "workflow_job",
            "workflow_dispatch",
            "check_run",
            "check_suite",
            "status",
            "create",
            "delete",
            "repository",
            "merge_group",
            "label",
            "milestone",
            "member",
            "fork",
            "star",
            "watch",
            "public",
            "gollum",
            "commit_comment",
        ),
        # Objects extracted from the REST API (dora_assets.extract.github), shaped like webhooks.
        variants={
            "push": ("api:push",),
            "deployment_status": ("api:deployment_status",),
            "pull_request": ("api:pull_request",),
            "issues": ("api:issues",),
        },
        ping_event="ping",
    ),
    # GitLab bodies are recognised by object_kind, the event types named here; a delivery may carry
    # the X-Gitlab-Event header's name instead (its variant).
    Source(
        name="gitlab",
        title="GitLab",
        mappings=(
            Mapping("pushes", "gitlab", ("push", "tag_push")),
            Mapping("deployments", "gitlab", ("deployment",)),
            Mapping("incidents", "gitlab", ("issue",)),
            Mapping("pull_requests", "gitlab", ("merge_request",)),
            Mapping("pull_request_reviews", "gitlab", ("note",)),
        ),
        landed_only=("pipeline", "build", "job", "release", "wiki_page", "feature_flag", "emoji"),
        variants={
            "push": ("Push Hook",),
            "tag_push": ("Tag Push Hook",),
            "merge_request": ("Merge Request Hook",),
            "deployment": ("Deployment Hook",),
            "pipeline": ("Pipeline Hook",),
            "job": ("Job Hook",),
            "issue": ("Issue Hook", "Confidential Issue Hook"),
            "note": ("Note Hook",),
            "release": ("Release Hook",),
        },
    ),
    Source(
        name="pagerduty",
        title="PagerDuty v3",
        mappings=(Mapping("incidents", "pagerduty", PAGERDUTY_INCIDENT_EVENTS),),
        ping_event="pagey.ping",
    ),
    # Jira Cloud and Jira Server/Data Center: the body's ``webhookEvent``. Issue events carry the
    # ``jira:`` prefix, as do version events; the others do not.
    Source(
        name="jira",
        title="Jira",
        mappings=(Mapping("incidents", "jira", ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted")),),
        landed_only=(
            "comment_created",
            "comment_updated",
            "comment_deleted",
            "issuelink_created",
            "issuelink_deleted",
            "worklog_created",
            "worklog_updated",
            "worklog_deleted",
            "sprint_started",
            "sprint_closed",
            "project_created",
            "project_updated",
            "jira:version_released",
        ),
    ),
    # The Jenkins Notification plugin: ``build.`` and the lower-cased ``build.phase``.
    Source(
        name="jenkins",
        title="Jenkins",
        mappings=(Mapping("deployments", "jenkins", ("build.completed", "build.finalized")),),
        landed_only=("build.queued", "build.started"),
    ),
)

SOURCES_BY_NAME: dict[str, Source] = {source.name: source for source in SOURCES}

# The silver tables the sources feed (in the order they first appear above); the other silver
# tables (changes, deployment_changes) are built from these.
MAPPED_TABLES: tuple[str, ...] = tuple(
    dict.fromkeys(mapping.table for source in SOURCES for mapping in source.mappings)
)


def mappings_for(table: str) -> list[tuple[Source, Mapping]]:
    """Every (source, mapping) that feeds ``silver.<table>``, in registry order."""
    return [(source, mapping) for source in SOURCES for mapping in source.mappings if mapping.table == table]


def sql_files(table: str) -> list[str]:
    """The SQL files silver runs for a mapped table, in order, inside the window's transaction:
    the table's candidate columns, each mapping's candidate rows, then the table's file that
    merges them and replaces the window."""
    return [f"{table}/candidates", *(mapping.sql_name for _, mapping in mappings_for(table)), table]


def feeding_event_types(table: str) -> list[str]:
    """``source:event_type`` of every bronze event type read into ``silver.<table>``, sorted."""
    return sorted(
        f"{source.name}:{event}" for source, mapping in mappings_for(table) for event in source.reads(mapping)
    )


def known_event_types() -> dict[str, frozenset[str]]:
    """Per source, the event types that land as known (``bronze.raw_events.known_event_type``)."""
    return {source.name: source.known_event_types for source in SOURCES}
