"""The landing-file envelope (CONTRACT section 2): one webhook delivery as it was received.

``Envelope`` is the specification. Writers (the demo generator, the receiver, the API
extractor) build envelopes through it; ingestion applies the same rules in SQL
(``sql/classify_records.sql``) so that DuckDB can check millions of records without a Python
loop, and a test holds the two to the same verdicts.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, field_validator

from dora_assets.sources import known_event_types

# The event types of each source that land as known (the registry, dora_assets/sources.py).
KNOWN_EVENT_TYPES: dict[str, frozenset[str]] = known_event_types()
KNOWN_SOURCES: tuple[str, ...] = tuple(sorted(KNOWN_EVENT_TYPES))
MAX_DELIVERY_ID_LENGTH = 255
# The one rule for received_at's form, applied by Envelope and by ingestion's SQL
# (sql/classify_records.sql, bound as $timestamp_pattern): an ISO-8601 date-time with a zone.
# Date YYYY-MM-DD; 'T', 't' or a space; hh:mm, optional :ss and up to 9 fractional digits
# (kept to the microsecond); a zone 'Z', 'z' or an offset of hours and minutes (hh:mm or hhmm)
# within the offsets in use, -14:00 to +14:00. An hours-only offset ("+05") is refused: ISO-8601
# allows it, but pydantic does not, and it is a truncation more often than not. A calendar date
# that does not exist (02-30) matches the pattern but is refused by both parsers.
RECEIVED_AT_PATTERN = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,9})?)?([Zz]|[+-]((0[0-9]|1[0-3]):?[0-5][0-9]|14:?00))"
)
_RECEIVED_AT = re.compile(RECEIVED_AT_PATTERN)


class Envelope(BaseModel):
    """One delivery. Extra top-level keys are allowed (and ignored by ingestion)."""

    model_config = ConfigDict(extra="allow")

    source: StrictStr = Field(description="github, gitlab, pagerduty, jira or jenkins")
    event_type: StrictStr = Field(min_length=1, description="the sender's event name")
    delivery_id: StrictStr = Field(
        min_length=1, max_length=MAX_DELIVERY_ID_LENGTH, description="the sender's unique delivery id"
    )
    received_at: AwareDatetime = Field(description="ISO-8601 with a zone")
    payload: dict[str, Any] = Field(description="the body exactly as the sender posted it")

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if source not in KNOWN_EVENT_TYPES:
            raise ValueError(f"unknown source {source!r}; expected one of {', '.join(KNOWN_SOURCES)}")
        return source

    @field_validator("received_at", mode="before")
    @classmethod
    def _iso_string(cls, value: object) -> object:
        if not isinstance(value, str | datetime):
            raise ValueError("must be an ISO-8601 string with a zone")
        if isinstance(value, str) and not _RECEIVED_AT.fullmatch(value):
            raise ValueError(
                "must be an ISO-8601 date-time with a zone (Z or an offset hh:mm or hhmm within -14:00..+14:00)"
            )
        return value

    @property
    def known_event_type(self) -> bool:
        return self.event_type in KNOWN_EVENT_TYPES[self.source]

    def to_json(self) -> str:
        """One line of JSON, as writers put it in a landing file."""
        body = self.model_dump(mode="json")
        body["received_at"] = self.received_at.isoformat().replace("+00:00", "Z")
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def known_event_type_keys() -> list[str]:
    """``source:event_type`` strings, bound as a SQL parameter by ingestion. Event types may hold
    a colon themselves (Jira's ``jira:issue_updated``); source names never do, so the first colon
    always ends the source and no two pairs share a key."""
    return sorted(f"{source}:{event}" for source, events in KNOWN_EVENT_TYPES.items() for event in events)
