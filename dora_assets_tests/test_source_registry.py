"""The registry of sources (dora_assets/sources.py) is the one place a source is declared: the
SQL files on disk, the event types they read, the checks, the envelope, the bronze index, the
config, the README's "Sources" table and the silver assets' descriptions agree with it.

No Dagster run: every test reads files or runs SQL on an in-memory DuckDB, so a source added
without its files, or a file without its registry entry, fails here in seconds."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey

import dora_assets
from dora_assets.config import INCIDENT_SOURCES, DoraConfig
from dora_assets.definitions import defs
from dora_assets.defs.silver.checks import FEEDING_EVENT_TYPES, NO_REJECTED_EVENTS
from dora_assets.ingestion.envelope import KNOWN_EVENT_TYPES, KNOWN_SOURCES, Envelope
from dora_assets.receiver.deliveries import PING_EVENTS
from dora_assets.sources import MAPPED_TABLES, SOURCES, SOURCES_BY_NAME, Mapping, Source, mappings_for, sql_files
from dora_assets.sql import run_sql, schema_ddl, sql_file, sql_statements
from dora_assets.windows import TimeWindow

PACKAGE = Path(dora_assets.__file__).parent
SILVER_SQL = PACKAGE / "defs" / "silver" / "sql"
README = PACKAGE.parent / "README.md"
FIXTURES = Path(__file__).parent / "fixtures"

MAPPINGS = [(source, mapping) for source in SOURCES for mapping in source.mappings]
MAPPING_IDS = [mapping.sql_name for _, mapping in MAPPINGS]


def sql_text(name: str) -> str:
    """A silver SQL file's statements, without comment lines."""
    return ";\n".join(sql_statements("silver", name))


def quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


# --- Files on disk ---------------------------------------------------------------------------


def test_every_mapping_has_its_file_and_every_file_under_a_table_folder_is_a_mapping() -> None:
    declared = {mapping.sql_name for _, mapping in MAPPINGS}
    on_disk = {
        f"{path.parent.name}/{path.stem}" for path in SILVER_SQL.glob("*/*.sql") if path.name != "candidates.sql"
    }
    assert on_disk == declared
    folders = {path.name for path in SILVER_SQL.iterdir() if path.is_dir()}
    assert folders == set(MAPPED_TABLES)
    for table in MAPPED_TABLES:
        assert (SILVER_SQL / table / "candidates.sql").is_file(), table
        assert (SILVER_SQL / f"{table}.sql").is_file(), table


def test_mapping_names_start_with_their_source_and_are_unique_per_table() -> None:
    for source, mapping in MAPPINGS:
        assert mapping.name == source.name or mapping.name.startswith(f"{source.name}_"), mapping.sql_name
        assert mapping.name != "candidates"
        assert mapping.table in MAPPED_TABLES
    assert len(MAPPING_IDS) == len(set(MAPPING_IDS))
    assert len(SOURCES_BY_NAME) == len(SOURCES)


def test_silver_runs_for_a_table_the_files_the_registry_names_in_order() -> None:
    for table in MAPPED_TABLES:
        files = sql_files(table)
        assert files[0] == f"{table}/candidates" and files[-1] == table
        assert files[1:-1] == [mapping.sql_name for _, mapping in mappings_for(table)]
        assert files[1:-1], f"no source feeds {table}"


def test_a_source_file_only_adds_candidate_rows_and_the_table_file_replaces_the_window() -> None:
    for _, mapping in MAPPINGS:
        statements = sql_statements("silver", mapping.sql_name)
        assert [statement.split("\n")[0] for statement in statements] == ["INSERT INTO source_candidates BY NAME"], (
            mapping.sql_name
        )
        assert "silver." + mapping.table not in sql_text(mapping.sql_name), mapping.sql_name
    for table in MAPPED_TABLES:
        text = sql_text(table)
        assert "FROM source_candidates" in text and "DROP TABLE source_candidates" in text
        assert f"DELETE FROM silver.{table} WHERE" in text and f"INSERT INTO silver.{table} BY NAME" in text


def test_sql_file_reads_a_file_in_a_table_folder() -> None:
    assert sql_file("silver", "deployments/jenkins") == (SILVER_SQL / "deployments" / "jenkins.sql").read_text()


# --- The event types the SQL reads ----------------------------------------------------------


def read_by(source: Source, mapping: Mapping) -> set[str]:
    """The bronze event types of ``source`` that the mapping's SQL file selects, read from the SQL:
    ``silver.window_events('<source>', '<type>')`` names them; a file that reads every delivery of
    its source (``silver.window_source_events``) narrows them by body (GitLab's object_kind: each
    kind and its header variants) or by prefix (PagerDuty: every known type starting with it)."""
    text = sql_text(mapping.sql_name)
    by_type = re.findall(r"silver\.window_events\('([^']*)', '([^']*)'\)", text)
    whole_source = re.findall(r"silver\.window_source_events\('([^']*)'\)", text)
    assert {name for name, _ in by_type} | set(whole_source) == {source.name}, mapping.sql_name
    selected = {event_type for _, event_type in by_type}
    kinds = [kind for kinds in re.findall(r"object_kind (?:= '[^']*'|IN \([^)]*\))", text) for kind in quoted(kinds)]
    prefixes = re.findall(r"starts_with\(event_type, '([^']*)'\)", text)
    if whole_source:
        assert bool(kinds) != bool(prefixes), f"{mapping.sql_name}: narrow by object_kind or by an event-type prefix"
        kinds_read = {name for kind in kinds for name in (kind, *source.variants.get(kind, ()))}
        by_prefix = {event for event in source.known_event_types for prefix in prefixes if event.startswith(prefix)}
        selected |= kinds_read | by_prefix
    return selected


@pytest.mark.parametrize(("source", "mapping"), MAPPINGS, ids=MAPPING_IDS)
def test_each_sql_file_reads_exactly_the_event_types_its_registry_entry_names(source: Source, mapping: Mapping) -> None:
    assert read_by(source, mapping) == set(source.reads(mapping))


def test_only_the_github_releases_read_bronze_beyond_the_window_and_only_github_pushes() -> None:
    # A release's commit is the head of a tag or branch pushed at any time (README: "Sources").
    github = SOURCES_BY_NAME["github"]
    [(_, github_pushes)] = [(s, m) for s, m in mappings_for("pushes") if s is github]
    for source, mapping in MAPPINGS:
        direct = re.findall(
            r"FROM bronze\.raw_events WHERE source = '([^']*)' AND event_type = '([^']*)'", sql_text(mapping.sql_name)
        )
        if mapping.sql_name == "deployments/github_releases":
            assert {event for _, event in direct} == set(github.reads(github_pushes))
            assert {name for name, _ in direct} == {source.name}
        else:
            assert direct == [], mapping.sql_name


def test_the_checks_count_what_the_sql_reads_and_the_envelope_knows_it() -> None:
    read = {
        table: sorted(
            f"{source.name}:{event}" for source, mapping in mappings_for(table) for event in read_by(source, mapping)
        )
        for table in MAPPED_TABLES
    }
    assert {key.path[-1]: sorted(types) for key, types in FEEDING_EVENT_TYPES.items()} == read
    for table, types in read.items():
        for source_event in types:
            source, event_type = source_event.split(":", 1)
            assert event_type in KNOWN_EVENT_TYPES[source], (table, source_event)
    rejects_checks = {
        spec.asset_key.path[-1]
        for spec in (
            defs.resolve_asset_graph().get_check_spec(key) for key in defs.resolve_asset_graph().asset_check_keys
        )
        if spec.name == NO_REJECTED_EVENTS
    }
    assert rejects_checks == set(MAPPED_TABLES)


def test_the_envelope_knows_what_the_registry_declares_and_nothing_else() -> None:
    assert {source.name: source.known_event_types for source in SOURCES} == KNOWN_EVENT_TYPES
    assert tuple(sorted(source.name for source in SOURCES)) == KNOWN_SOURCES
    received = datetime(2023, 3, 1, tzinfo=UTC)
    for source in SOURCES:
        assert not set(source.landed_only) & {event for mapping in source.mappings for event in mapping.event_types}
        for event_type in source.known_event_types:
            assert Envelope(
                source=source.name, event_type=event_type, delivery_id="d", received_at=received, payload={}
            ).known_event_type
        for mapping in source.mappings:
            assert set(mapping.event_types) <= source.known_event_types
        assert not Envelope(
            source=source.name, event_type="not.an.event", delivery_id="d", received_at=received, payload={}
        ).known_event_type
    assert {source.name: source.ping_event for source in SOURCES if source.ping_event} == PING_EVENTS


def test_the_bronze_index_names_only_event_types_silver_reads() -> None:
    # bronze.raw_events_index_rows (defs/bronze/sql/schema.sql) keys a delivery to its silver object by
    # source and event type: a source's rules there must name what its mappings read.
    [index] = [
        statement
        for statement in sql_statements("bronze", "schema")
        if statement.startswith("CREATE OR REPLACE MACRO bronze.raw_events_index_rows")
    ]
    read = {(source.name, event) for source, mapping in MAPPINGS for event in source.reads(mapping)}
    named = set()
    for source, types in re.findall(r"source = '([^']*)' AND event_type (?:IN \(([^)]*)\)|= '[^']*')", index):
        named |= {(source, event) for event in quoted(types)}
    for source, event in re.findall(r"source = '([^']*)' AND event_type = '([^']*)'", index):
        named.add((source, event))
    assert named and named <= read
    [commit_times] = re.findall(
        r"CASE WHEN event_type IN \(([^)]*)\)\s+THEN json_extract_string\(payload, '\$\.commits", index
    )
    pushes = {event for source, mapping in mappings_for("pushes") for event in source.reads(mapping)}
    assert set(quoted(commit_times)) == pushes
    gitlab_kinds = set(re.findall(r"source = 'gitlab' AND f\[36\] = '([^']*)'", index))
    assert gitlab_kinds <= {event for mapping in SOURCES_BY_NAME["gitlab"].mappings for event in mapping.event_types}


def test_the_incident_sources_of_the_config_are_those_that_feed_incidents() -> None:
    assert set(INCIDENT_SOURCES) == {source.name for source, _ in mappings_for("incidents")}


# --- Every source file runs against its table's candidate columns ----------------------------


def fixture_deliveries() -> list[tuple]:
    """Every real sample body under fixtures/<source>/<event type>/ as a bronze row (Jira's
    folders spell `jira:` as `jira_`), and the samples of requests merged (GitHub's closed pull
    request was closed unmerged, GitLab's merge request is open)."""
    bodies = []
    for path in sorted(FIXTURES.glob("*/*/*.json")):
        source, event_type = path.parts[-3], path.parts[-2]
        event_type = event_type.replace("jira_", "jira:", 1) if source == "jira" else event_type
        bodies.append((source, event_type, path.read_text()))
    pull_request = json.loads((FIXTURES / "github" / "pull_request" / "closed.payload.json").read_text())
    pull_request["pull_request"].update(merged=True, merged_at=pull_request["pull_request"]["closed_at"])
    merge_request = json.loads((FIXTURES / "gitlab" / "merge_request" / "merge_request.json").read_text())
    merge_request["object_attributes"].update(state="merged", action="merge")
    bodies += [
        ("github", "pull_request", json.dumps(pull_request)),
        ("gitlab", "merge_request", json.dumps(merge_request)),
    ]
    received = datetime(2023, 3, 1, tzinfo=UTC)
    return [
        (f"fixture-{index}", source, event_type, received, body, "fixtures", None, True, 1, received)
        for index, (source, event_type, body) in enumerate(bodies)
    ]


def test_each_source_file_gives_candidate_rows_of_its_own_source_and_event_types() -> None:
    config = DoraConfig.model_validate(
        {
            "github": {
                "deployments_from": ["deployment_status", "workflow_run", "release"],
                "deploy_workflows": ["test"],
            },
            "jenkins": {"deploy_jobs": ["*"]},
            "jira": {"incident_issue_types": ["Incident", "Bug", "Task"]},
            "incident_labels": ["incident", "bug"],
            "production_environments": ["production", "prod", "staging", "github-pages"],
        }
    )
    params = {**TimeWindow.all_time().params(), **config.silver_params()}
    with duckdb.connect() as connection:
        for ddl in schema_ddl():
            connection.execute(ddl)
        connection.executemany(
            "INSERT INTO bronze.raw_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", fixture_deliveries()
        )
        connection.execute("SET VARIABLE window_received_from = TIMESTAMPTZ '2023-01-01 00:00:00+00'")
        connection.execute("SET VARIABLE window_received_until = TIMESTAMPTZ '2024-01-01 00:00:00+00'")
        for source, mapping in MAPPINGS:
            run_sql(connection, "silver", f"{mapping.table}/candidates", params)
            run_sql(connection, "silver", mapping.sql_name, params)
            produced = connection.execute("SELECT DISTINCT source, event_type FROM source_candidates").fetchall()
            assert produced, f"{mapping.sql_name}: no candidate row from the fixtures"
            assert {name for name, _ in produced} == {source.name}, mapping.sql_name
            assert {event for _, event in produced} <= set(source.reads(mapping)), mapping.sql_name


def test_the_fixture_bodies_are_valid_json_of_known_event_types() -> None:
    for _, source, event_type, _, body, *_ in fixture_deliveries():
        json.loads(body)
        assert event_type in KNOWN_EVENT_TYPES[source] or event_type == "ping", (source, event_type)


# --- The docs ---------------------------------------------------------------------------------


def readme_sources_table() -> list[list[str]]:
    """The rows of the README's "Sources" table: source, event types, what it feeds, rule."""
    section = README.read_text(encoding="utf-8").split("## Sources: one silver model for every toolchain", 1)[1]
    table = section[section.index("| source | event type") :].split("\n\n", 1)[0].splitlines()
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in table[2:]]


def ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def test_the_readme_sources_table_lists_exactly_the_registry() -> None:
    titles = {source.title: source for source in SOURCES}
    documented: dict[tuple[str, str], set[str]] = {}
    for title, events, feeds, _ in readme_sources_table():
        source = titles[title]
        names = {
            known for pattern in ticked(events) for known in source.known_event_types if fnmatchcase(known, pattern)
        }
        assert len(names) >= len(ticked(events)), (title, events)
        if feeds == "(bronze only)":
            assert names <= set(source.landed_only), (title, events)
            continue
        for table in set(ticked(feeds)) & set(MAPPED_TABLES):
            documented.setdefault((source.name, table), set()).update(names)
    declared: dict[tuple[str, str], set[str]] = {}
    for source, mapping in MAPPINGS:
        declared.setdefault((source.name, mapping.table), set()).update(mapping.event_types)
    assert documented == declared


def test_the_silver_asset_descriptions_name_every_source_and_event_type_that_feeds_them() -> None:
    graph = defs.resolve_asset_graph()
    for table in MAPPED_TABLES:
        description = graph.get(AssetKey(["silver", table])).description
        feeding = mappings_for(table)
        known = {event for source, _ in feeding for event in source.known_event_types}
        named = {event for pattern in ticked(description) for event in known if fnmatchcase(event, pattern)}
        assert named == {event for _, mapping in feeding for event in mapping.event_types}, table
        for source, _ in feeding:
            assert source.title.split()[0] in description, (table, source.name)
