"""received_at (issue 18 item 12): one rule decides its form, for the Envelope (writers, the
receiver) and for ingestion's SQL alike, and a delivery stamped outside the plausible range is
quarantined instead of landing in append-only bronze, where it would fail no_future_deliveries
forever or drag every transform back to its day. Real files, real DuckDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from dora_assets.defs.bronze.checks import future_times_result
from dora_assets.ingestion.envelope import Envelope
from dora_assets.ingestion.ingest import ReceivedAtRange, ingest_landing
from dora_assets.resources import Clock, DoraConfigResource, DuckDBWarehouse, connect_warehouse

LANDS, QUARANTINED = "landed", "quarantined"

# (received_at, its fate, the UTC moment it lands as)
FORMS = [
    ("2025-10-30T10:00:00Z", LANDS, datetime(2025, 10, 30, 10, tzinfo=UTC)),
    ("2025-10-30t10:00:00z", LANDS, datetime(2025, 10, 30, 10, tzinfo=UTC)),
    ("2025-10-30 10:00Z", LANDS, datetime(2025, 10, 30, 10, tzinfo=UTC)),
    ("2025-10-30T10:00:00.123456789+00:00", LANDS, datetime(2025, 10, 30, 10, 0, 0, 123456, tzinfo=UTC)),
    ("2025-10-30T10:00:00+05:30", LANDS, datetime(2025, 10, 30, 4, 30, tzinfo=UTC)),
    ("2025-10-30T10:00:00+0530", LANDS, datetime(2025, 10, 30, 4, 30, tzinfo=UTC)),
    ("2025-10-30T10:00:00+14:00", LANDS, datetime(2025, 10, 29, 20, tzinfo=UTC)),
    ("2025-10-30T10:00:00-1400", LANDS, datetime(2025, 10, 31, 0, tzinfo=UTC)),
    ("2025-10-30T10:00:00+99:99", QUARANTINED, None),  # DuckDB alone read it as 4 days earlier
    ("2025-10-30T10:00:00+05", QUARANTINED, None),  # DuckDB alone landed it
    ("2025-10-30T10:00:00+14:01", QUARANTINED, None),  # pydantic alone accepted it
    ("2025-10-30T10:00:00+23:59", QUARANTINED, None),
    ("2025-10-30T10:00:00-15:00", QUARANTINED, None),
    ("2025-10-30T24:00:00Z", QUARANTINED, None),  # DuckDB alone read it as the next midnight
    ("2025-10-30T10:00:60Z", QUARANTINED, None),
    ("2025-02-30T10:00:00Z", QUARANTINED, None),
    ("2025-10-30T10:00:00", QUARANTINED, None),  # no zone
    ("2025-10-30", QUARANTINED, None),
    ("2025-10-30T10:00:00 Z", QUARANTINED, None),
    ("2025-10-30T10:00:00Z\n", QUARANTINED, None),
    ("\u0662\u0660\u0662\u0665-10-30T10:00:00Z", QUARANTINED, None),  # Arabic-Indic digits
]


def envelope(delivery_id: str, received_at: str) -> dict:
    return {
        "source": "github",
        "event_type": "push",
        "delivery_id": delivery_id,
        "received_at": received_at,
        "payload": {"ref": "refs/heads/main", "commits": []},
    }


def ingest(tmp_path: Path, stamps: list[str], **options) -> dict[str, tuple]:
    """Land one file of one delivery per stamp; per delivery id: (fate, received_at or
    (reason_code, reason))."""
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    lines = [json.dumps(envelope(f"d{number}", stamp)) for number, stamp in enumerate(stamps)]
    (landing / "deliveries.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with connect_warehouse(str(tmp_path / "warehouse.duckdb")) as connection:
        report = ingest_landing(connection, landing, settle_seconds=0, **options)
        assert report.totals.balanced and report.totals.seen == len(stamps)
        fates = {
            delivery_id: (LANDS, received_at)
            for delivery_id, received_at in connection.execute(
                "SELECT delivery_id, received_at FROM bronze.raw_events"
            ).fetchall()
        }
        for line_number, code, reason in connection.execute(
            "SELECT line_number, reason_code, reason FROM bronze.quarantine"
        ).fetchall():
            fates[f"d{line_number - 1}"] = (QUARANTINED, (code, reason))
    return fates


def test_ingestion_and_the_envelope_judge_every_form_alike(tmp_path: Path) -> None:
    fates = ingest(tmp_path, [stamp for stamp, _, _ in FORMS])
    for number, (stamp, fate, moment) in enumerate(FORMS):
        try:
            parsed = Envelope.model_validate(envelope("x", stamp)).received_at
            envelope_fate = LANDS
        except ValidationError:
            parsed, envelope_fate = None, QUARANTINED
        landed_fate, detail = fates[f"d{number}"]
        assert (stamp, landed_fate, envelope_fate) == (stamp, fate, fate)
        if fate == LANDS:
            assert detail == moment == parsed, stamp
        else:
            assert detail[0] == "invalid_envelope", (stamp, detail)
            assert "received_at is not an ISO-8601 timestamp with a zone" in detail[1]


def test_implausible_times_are_quarantined_with_the_range_in_the_reason(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    far_years = ["21" + "00", "99" + "99", "00" + "01", "1999"]
    stamps = [f"{year}-06-01T00:00:00Z" for year in far_years]
    soon = (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")  # clock skew: within the lead
    too_far = (now + timedelta(days=2, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamps += [soon, too_far, "2000-01-01T00:00:00Z", "2015-01-01T00:00:00+01:00"]
    fates = ingest(tmp_path, stamps)
    quarantined = {number for number in range(len(stamps)) if fates[f"d{number}"][0] == QUARANTINED}
    assert quarantined == {0, 1, 2, 3, 5}
    for number in quarantined:
        code, reason = fates[f"d{number}"][1]
        assert code == "implausible_received_at"
        assert reason.startswith("envelope field received_at is outside the plausible range 2000-01-01T00:00:00Z to ")
        assert reason.endswith(stamps[number])


def test_the_plausible_range_is_configurable(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    in_a_week = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fates = ingest(
        tmp_path, ["2014-12-31T23:00:00Z", in_a_week], received_at_range=ReceivedAtRange(2015, max_future_days=10)
    )
    assert fates["d0"][0] == QUARANTINED and fates["d0"][1][0] == "implausible_received_at"
    assert fates["d1"][0] == LANDS


def test_a_delivery_slightly_in_the_future_fails_the_check_only_until_its_time_comes(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ahead = now + timedelta(hours=3)  # a sender's clock 3 h fast: plausible, so it lands
    fates = ingest(tmp_path, [ahead.strftime("%Y-%m-%dT%H:%M:%SZ")])
    assert fates["d0"] == (LANDS, ahead)
    warehouse = DuckDBWarehouse(database=str(tmp_path / "warehouse.duckdb"))

    def judged_at(moment: datetime) -> bool:
        clock = Clock(frozen_at=moment.isoformat())
        return future_times_result("bronze.raw_events", warehouse, DoraConfigResource(), clock).passed

    assert not judged_at(now)
    assert not judged_at(ahead - timedelta(minutes=11))  # the default tolerance is 10 minutes
    assert judged_at(ahead - timedelta(minutes=9))
    assert judged_at(ahead + timedelta(days=30))


@pytest.mark.parametrize("stamp", ["2025-10-30t10:00:00z", "2025-10-30T10:00:00+0530"])
def test_what_the_envelope_writes_lands_as_it_was_read(tmp_path: Path, stamp: str) -> None:
    """A writer's Envelope round-trips through its own JSON and ingestion to the same moment."""
    written = Envelope.model_validate(envelope("x", stamp))
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "one.json").write_text(written.to_json(), encoding="utf-8")
    with connect_warehouse(str(tmp_path / "warehouse.duckdb")) as connection:
        ingest_landing(connection, tmp_path / "landing", settle_seconds=0)
        [(received_at,)] = connection.execute("SELECT received_at FROM bronze.raw_events").fetchall()
    assert received_at == written.received_at
