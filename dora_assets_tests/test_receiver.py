"""The webhook receiver (`dora-assets serve`): pure signature and body helpers, then the real app
under uvicorn on 127.0.0.1 with real sample payloads (fixtures/, copied from shared/samples) and
real HMAC signatures computed here, then ingestion of what it landed into bronze, and the CLI as
a subprocess stopped with SIGTERM. Log assertions use their own handler, so they also hold under
``-p no:logging``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.datastructures import Headers

from dora_assets.ingestion.envelope import KNOWN_EVENT_TYPES, Envelope
from dora_assets.ingestion.ingest import ingest_landing
from dora_assets.receiver import signatures
from dora_assets.receiver.deliveries import (
    Rejection,
    check_declared_length,
    derived_delivery_id,
    fourkeys_source,
    jenkins_delivery_id,
    parse_json_object,
    read_body_within_limit,
)
from dora_assets.receiver.server import build_server, listening_socket
from dora_assets.receiver.settings import DEFAULT_MAX_BODY_BYTES, SOURCES, ReceiverSettings
from dora_assets.resources import connect_warehouse
from dora_assets.settings import DoraPaths
from dora_assets_tests.helpers import materialize_everything, query

FIXTURES = Path(__file__).parent / "fixtures"
GITHUB_SECRET = "gh-secret-5d1f0b7e-never-logged"
GITLAB_TOKEN = "gl-token-93ac21e4-never-logged"
PAGERDUTY_SECRET = "pd-secret-0c7e44aa-never-logged"
JIRA_SECRET = "jira-secret-4b9e1c2d-never-logged"
JENKINS_TOKEN = "jenkins-token-7f3a90b1-never-logged"
SECRETS = (GITHUB_SECRET, GITLAB_TOKEN, PAGERDUTY_SECRET, JIRA_SECRET, JENKINS_TOKEN)
LANDING_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{32}\.json$")
GITHUB_PUSH = "github/push/payload.json"
GITHUB_DEPLOYMENT_STATUS = "github/deployment_status/payload.json"
GITHUB_PING = "github/ping/payload.json"
GITLAB_PUSH = "gitlab/push/push-event.json"
GITLAB_DEPLOYMENT = "gitlab/deployment/deployment_hook__succeeded.json"
GITLAB_INCIDENT = "gitlab/issue/issue_hook__incident_closed.json"
PAGERDUTY_TRIGGERED = "pagerduty/incident.triggered/triggered_v3.json"
PAGERDUTY_RESOLVED = "pagerduty/incident.resolved/resolved_v3.json"
JIRA_ISSUE_UPDATED = "jira/jira_issue_updated/mattermost-cloud-status-inprogress-to-done-resolutiondate.json"
JENKINS_COMPLETED = "jenkins/build.completed/plugins-wiki-docs-asgard-completed-success.json"


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def hmac_hex(digest: Callable, secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, digest).hexdigest()


def github_headers(event: str, body: bytes, *, delivery: str | None = None, secret: str = GITHUB_SECRET) -> dict:
    """What GitHub sends today: both signatures, a delivery GUID and the Hookshot user agent."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "292430182",
        "X-Hub-Signature": "sha1=" + hmac_hex(hashlib.sha1, secret, body),
        "X-Hub-Signature-256": "sha256=" + hmac_hex(hashlib.sha256, secret, body),
    }


def gitlab_headers(event_header: str, *, token: str | None = GITLAB_TOKEN, event_uuid: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "User-Agent": "GitLab/17.5.0", "X-Gitlab-Event": event_header}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    if event_uuid is not None:
        headers["X-Gitlab-Event-UUID"] = event_uuid
    return headers


def pagerduty_headers(body: bytes, *, secret: str = PAGERDUTY_SECRET) -> dict:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "PagerDuty-Webhook/V3.0",
        "X-PagerDuty-Signature": "v1=" + hmac_hex(hashlib.sha256, secret, body),
    }


def jira_headers(body: bytes, *, secret: str = JIRA_SECRET, identifier: str | None = None) -> dict:
    """What Jira Cloud sends for a webhook registered with a secret."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Atlassian Webhook HTTP Client",
        "X-Atlassian-Webhook-Flow": "Primary",
        "X-Hub-Signature": "sha256=" + hmac_hex(hashlib.sha256, secret, body),
    }
    if identifier is not None:
        headers["X-Atlassian-Webhook-Identifier"] = identifier
    return headers


def jenkins_headers(*, token: str | None = JENKINS_TOKEN) -> dict:
    """What the Notification plugin's HTTP protocol sends (Java's HttpURLConnection), plus the token."""
    headers = {"Content-Type": "application/json;charset=UTF-8", "User-Agent": "Java/17.0.13"}
    if token is not None:
        headers["X-Jenkins-Token"] = token
    return headers


def jenkins_phase(phase: str, *, number: int | None = None) -> bytes:
    """The asgard sample as the plugin would send it in another phase (or for another build)."""
    document = json.loads(fixture_bytes(JENKINS_COMPLETED))
    document["build"]["phase"] = phase
    if number is not None:
        document["build"]["number"] = number
    return json.dumps(document, indent=4).encode()


@dataclass
class Receiver:
    """A receiver running under uvicorn in a background thread."""

    url: str
    landing_dir: Path
    client: httpx.Client

    def post(self, path: str, body: bytes, headers: dict | None = None, **kwargs) -> httpx.Response:
        return self.client.post(self.url + path, content=body, headers=headers or {}, **kwargs)

    def landed_files(self) -> list[Path]:
        return sorted(path for path in self.landing_dir.rglob("*") if path.is_file())

    def envelope(self, response: httpx.Response) -> dict:
        """The landed file the 202 answer names, checked against the envelope spec."""
        path = self.landing_dir / response.json()["file"]
        document = json.loads(path.read_text(encoding="utf-8"))
        Envelope.model_validate(document)
        return document


@pytest.fixture
def start_receiver(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """Start real receivers (uvicorn, 127.0.0.1, a free port); stopped after the test."""
    running: list[tuple[uvicorn.Server, threading.Thread, httpx.Client]] = []

    def start(
        landing_dir: Path | None = None, *, secrets: bool = True, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    ) -> Receiver:
        settings = ReceiverSettings(
            landing_dir=landing_dir or tmp_path / "landing",
            github_secret=GITHUB_SECRET if secrets else None,
            gitlab_token=GITLAB_TOKEN if secrets else None,
            pagerduty_secret=PAGERDUTY_SECRET if secrets else None,
            jira_secret=JIRA_SECRET if secrets else None,
            jenkins_token=JENKINS_TOKEN if secrets else None,
            max_body_bytes=max_body_bytes,
        )
        server = build_server(settings)
        sock = listening_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.01)
        client = httpx.Client(timeout=10)
        running.append((server, thread, client))
        return Receiver(f"http://127.0.0.1:{port}", settings.landing_dir, client)

    yield start
    for server, thread, client in running:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def receiver(start_receiver: Callable[..., Receiver]) -> Receiver:
    """A receiver with every source's secret set."""
    return start_receiver()


def server_log_text(records: list[logging.LogRecord]) -> str:
    """The server's log lines; the test's own HTTP client (httpx) logs the URLs it requests, query
    strings included, so its records are left out."""
    return "\n".join(record.getMessage() for record in records if not record.name.startswith(("httpx", "httpcore")))


# --- pure helpers -------------------------------------------------------------------------------


def test_github_signatures_match_only_the_right_hmac() -> None:
    body = fixture_bytes(GITHUB_PUSH)
    sha256 = "sha256=" + hmac_hex(hashlib.sha256, GITHUB_SECRET, body)
    sha1 = "sha1=" + hmac_hex(hashlib.sha1, GITHUB_SECRET, body)

    assert signatures.verify_github(GITHUB_SECRET, body, sha256, None)
    assert signatures.verify_github(GITHUB_SECRET, body, sha256.upper().replace("SHA256=", "sha256="), None)
    assert signatures.verify_github(GITHUB_SECRET, body, None, sha1)
    assert not signatures.verify_github(GITHUB_SECRET, body + b" ", sha256, None)
    assert not signatures.verify_github("another secret", body, sha256, sha1)
    assert not signatures.verify_github(GITHUB_SECRET, body, None, None)
    assert not signatures.verify_github(GITHUB_SECRET, body, sha1, None), "a sha1 value is not a sha256 signature"
    # A wrong SHA-256 signature is not rescued by a right legacy one.
    assert not signatures.verify_github(GITHUB_SECRET, body, "sha256=" + "0" * 64, sha1)
    assert not signatures.verify_github(GITHUB_SECRET, body, "sha256=\u00e9\udcff", None)


def test_pagerduty_accepts_any_of_several_signatures_and_gitlab_needs_the_exact_token() -> None:
    body = fixture_bytes(PAGERDUTY_TRIGGERED)
    right = "v1=" + hmac_hex(hashlib.sha256, PAGERDUTY_SECRET, body)
    wrong = "v1=" + hmac_hex(hashlib.sha256, "old secret", body)

    assert signatures.verify_pagerduty(PAGERDUTY_SECRET, body, f"{wrong}, {right}")
    assert signatures.verify_pagerduty(PAGERDUTY_SECRET, body, f"{right},{wrong}")
    assert not signatures.verify_pagerduty(PAGERDUTY_SECRET, body, f"{wrong},{wrong}")
    assert not signatures.verify_pagerduty(PAGERDUTY_SECRET, body, right.removeprefix("v1="))
    assert not signatures.verify_pagerduty(PAGERDUTY_SECRET, body, "")
    assert signatures.verify_gitlab(GITLAB_TOKEN, GITLAB_TOKEN)
    assert not signatures.verify_gitlab(GITLAB_TOKEN, GITLAB_TOKEN.upper())
    assert not signatures.verify_gitlab(GITLAB_TOKEN, None)


def test_jira_signatures_are_sha256_hmacs_of_the_raw_body() -> None:
    body = fixture_bytes(JIRA_ISSUE_UPDATED)
    right = "sha256=" + hmac_hex(hashlib.sha256, JIRA_SECRET, body)

    assert signatures.jira_signature(JIRA_SECRET, body) == right
    assert signatures.verify_jira(JIRA_SECRET, body, right)
    assert signatures.verify_jira(JIRA_SECRET, body, " " + right.upper().replace("SHA256=", "sha256=") + " ")
    assert not signatures.verify_jira(JIRA_SECRET, body + b"\n", right), "the signature covers the raw bytes"
    assert not signatures.verify_jira("another secret", body, right)
    assert not signatures.verify_jira(JIRA_SECRET, body, right.removeprefix("sha256="))
    assert not signatures.verify_jira(JIRA_SECRET, body, "sha1=" + hmac_hex(hashlib.sha1, JIRA_SECRET, body))
    assert not signatures.verify_jira(JIRA_SECRET, body, None)
    assert not signatures.verify_jira(JIRA_SECRET, body, "sha256=\u00e9\udcff")


def test_jenkins_tokens_come_as_a_header_or_a_bearer_token() -> None:
    assert signatures.verify_jenkins(JENKINS_TOKEN, JENKINS_TOKEN, None)
    assert signatures.verify_jenkins(JENKINS_TOKEN, None, f"Bearer {JENKINS_TOKEN}")
    assert signatures.verify_jenkins(JENKINS_TOKEN, None, f"bearer  {JENKINS_TOKEN} ")
    assert signatures.verify_jenkins(JENKINS_TOKEN, "stale token", f"Bearer {JENKINS_TOKEN}")
    assert not signatures.verify_jenkins(JENKINS_TOKEN, JENKINS_TOKEN.upper(), None)
    assert not signatures.verify_jenkins(JENKINS_TOKEN, JENKINS_TOKEN[:-1], None)
    assert not signatures.verify_jenkins(JENKINS_TOKEN, None, f"Basic {JENKINS_TOKEN}")
    assert not signatures.verify_jenkins(JENKINS_TOKEN, None, JENKINS_TOKEN), "a bare Authorization is no bearer"
    assert not signatures.verify_jenkins(JENKINS_TOKEN, None, None)
    assert signatures.bearer_token("Bearer abc") == "abc"
    assert signatures.bearer_token("Bearer ") is None
    assert signatures.bearer_token("Basic dXNlcjpwYXNz") is None


@pytest.mark.parametrize(
    ("url", "name", "build", "expected"),
    [
        ("job/asgard/", "asgard", {"number": 18, "phase": "COMPLETED"}, "asgard#18#COMPLETED"),
        ("job/asgard/", "asgard", {"number": 18, "phase": "completed"}, "asgard#18#COMPLETED"),
        ("job/asgard/", "asgard", {"number": "18", "phase": "STARTED"}, "asgard#18#STARTED"),
        # Folders and multibranch projects: `name` is only the last part ("main" in every repo).
        ("job/payments/job/main/", "main", {"number": 7, "phase": "FINALIZED"}, "payments/main#7#FINALIZED"),
        (
            "job/payments/job/feature%252Fx/",
            "feature%2Fx",
            {"number": 2, "phase": "QUEUED"},
            "payments/feature%2Fx#2#QUEUED",
        ),
        ("job/my%20app/", "my app", {"number": 1, "phase": "COMPLETED"}, "my app#1#COMPLETED"),
        ("view/all/job/asgard/", "asgard", {"number": 18, "phase": "COMPLETED"}, "asgard#18#COMPLETED"),
        (None, "asgard", {"number": 18, "phase": "COMPLETED"}, "asgard#18#COMPLETED"),
        ("job/asgard/", "asgard", {"phase": "COMPLETED"}, None),
        ("job/asgard/", "asgard", {"number": True, "phase": "COMPLETED"}, None),
        ("job/asgard/", "asgard", {"number": 18.5, "phase": "COMPLETED"}, None),
        (None, None, {"number": 18, "phase": "COMPLETED"}, None),
        ("job/asgard/", "asgard", {"number": 18}, None),
    ],
)
def test_jenkins_delivery_ids_name_the_job_build_and_phase(
    url: str | None, name: str | None, build: dict, expected: str | None
) -> None:
    assert jenkins_delivery_id({"name": name, "url": url, "build": build}) == expected


def test_the_sample_jenkins_notification_gets_its_job_build_and_phase_as_id() -> None:
    assert jenkins_delivery_id(json.loads(fixture_bytes(JENKINS_COMPLETED))) == "asgard#18#COMPLETED"


def test_body_reading_stops_at_the_limit_without_reading_further() -> None:
    consumed = 0

    async def endless(chunk: bytes) -> AsyncIterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield chunk

    async def finite() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 1024

    with pytest.raises(Rejection) as refused:
        asyncio.run(read_body_within_limit(endless(b"x" * 1024), 10 * 1024))
    assert refused.value.status_code == 413
    assert consumed == 11, "reading must stop at the first chunk that crosses the limit"
    assert asyncio.run(read_body_within_limit(finite(), 4 * 1024)) == b"x" * 4096


@pytest.mark.parametrize(
    ("content_length", "status"),
    [("4096", None), (None, None), ("4097", 413), ("-1", 400), ("1e3", 400), ("\u00b2", 400)],
)
def test_a_declared_length_is_checked_before_reading(content_length: str | None, status: int | None) -> None:
    if status is None:
        check_declared_length(content_length, 4096)
    else:
        with pytest.raises(Rejection) as refused:
            check_declared_length(content_length, 4096)
        assert refused.value.status_code == status


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "not valid JSON"),
        (b"payload=%7B%7D", "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b"[1, 2]", "not a JSON array"),
        (b'"text"', "not a JSON string"),
        (b'{"value": NaN}', "NaN is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "deeper than 128 levels"),
    ],
)
def test_only_utf8_json_objects_are_payloads(body: bytes, fragment: str) -> None:
    with pytest.raises(Rejection) as refused:
        parse_json_object(body)
    assert refused.value.status_code == 400 and fragment in refused.value.message


def test_derived_delivery_ids_are_stable_and_depend_on_source_event_and_body() -> None:
    body = b'{"head_commit": {"id": "abc"}}'
    derived = derived_delivery_id("github", "push", body)

    assert derived == derived_delivery_id("github", "push", body)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", derived)
    assert derived != derived_delivery_id("gitlab", "push", body)
    assert derived != derived_delivery_id("github", "issues", body)
    assert derived != derived_delivery_id("github", "push", body + b" ")


@pytest.mark.parametrize(
    ("headers", "source"),
    [
        ({"X-GitHub-Event": "push", "User-Agent": "GitHub-Hookshot/mock"}, "github"),
        ({"X-Gitlab-Event": "push"}, "gitlab"),
        ({"X-PagerDuty-Signature": "v1=00"}, "pagerduty"),
        ({"X-GitHub-Event": "push", "User-Agent": "curl/8.5", "X-Gitlab-Event": "push"}, "gitlab"),
        ({"X-GitHub-Event": "push", "User-Agent": "curl/8.5"}, None),
        ({"Content-Type": "application/json"}, None),
    ],
)
def test_root_route_detects_the_source_as_four_keys_did(headers: dict, source: str | None) -> None:
    if source is None:
        with pytest.raises(Rejection) as refused:
            fourkeys_source(Headers(headers=headers))
        assert refused.value.status_code == 400 and "unknown source" in refused.value.message
    else:
        assert fourkeys_source(Headers(headers=headers)) == source


def test_settings_come_from_the_environment_and_never_show_their_secrets(tmp_path: Path) -> None:
    environ = {
        "DORA_LANDING_DIR": str(tmp_path / "drop"),
        "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
        "GITLAB_WEBHOOK_TOKEN": "",
        "PAGERDUTY_WEBHOOK_SECRET": PAGERDUTY_SECRET,
        "JIRA_WEBHOOK_SECRET": JIRA_SECRET,
        "JENKINS_WEBHOOK_TOKEN": "",
    }
    settings = ReceiverSettings.from_env(environ, max_body_bytes=1000)

    assert settings.landing_dir == tmp_path / "drop" and settings.max_body_bytes == 1000
    assert settings.verified_sources == ("github", "pagerduty", "jira")
    assert settings.unverified_sources == ("gitlab", "jenkins")
    assert settings.secret_for("github") == GITHUB_SECRET and settings.gitlab_token is None
    assert settings.secret_for("jira") == JIRA_SECRET and settings.jenkins_token is None
    assert ReceiverSettings.from_env({"JENKINS_WEBHOOK_TOKEN": JENKINS_TOKEN}).verified_sources == ("jenkins",)
    assert not any(
        secret in repr(ReceiverSettings.from_env({"JENKINS_WEBHOOK_TOKEN": JENKINS_TOKEN})) for secret in SECRETS
    )
    assert not any(secret in repr(settings) for secret in SECRETS)
    assert ReceiverSettings.from_env({}).max_body_bytes == 25 * 1024 * 1024
    with pytest.raises(ValueError, match="at least 1"):
        ReceiverSettings.from_env(environ, max_body_bytes=0)


def test_each_limit_comes_from_its_flag_else_its_env_var_else_its_default() -> None:
    environ = {
        "DORA_RECEIVER_HEADER_TIMEOUT": "2.5",
        "DORA_RECEIVER_MAX_CONNECTIONS": "7",
        "DORA_RECEIVER_BODY_TIMEOUT": " ",
    }

    settings = ReceiverSettings.from_env(environ, max_connections=9, max_large_bodies=None)

    assert (settings.header_timeout, settings.max_connections, settings.body_timeout) == (2.5, 9, 60.0)
    assert settings.limits() == {
        "max_body_bytes": 25 * 1024 * 1024,
        "max_json_depth": 128,
        "max_header_bytes": 65536,
        "header_timeout": 2.5,
        "body_timeout": 60.0,
        "max_connections": 9,
        "large_body_bytes": 1024 * 1024,
        "max_large_bodies": 4,
    }
    bad = {
        "DORA_RECEIVER_MAX_CONNECTIONS": ("1.5", "DORA_RECEIVER_MAX_CONNECTIONS must be a whole number, got '1.5'"),
        "DORA_RECEIVER_HEADER_TIMEOUT": ("-1", "DORA_RECEIVER_HEADER_TIMEOUT must be more than 0, got '-1'"),
        "DORA_RECEIVER_MAX_JSON_DEPTH": (
            "251",
            "--max-json-depth (DORA_RECEIVER_MAX_JSON_DEPTH) must be from 1 to 250",
        ),
    }
    for variable, (value, message) in bad.items():
        with pytest.raises(ValueError) as refused:
            ReceiverSettings.from_env({variable: value})
        assert str(refused.value).startswith(message)


# --- the real server ----------------------------------------------------------------------------


def test_a_github_delivery_lands_as_one_valid_envelope(receiver: Receiver) -> None:
    body = fixture_bytes(GITHUB_PUSH)
    headers = github_headers("push", body, delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")

    response = receiver.post("/webhooks/github", body, headers)

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958" and answer["delivery_id_derived"] is False
    assert re.fullmatch(r"github/\d{4}/\d{2}/\d{2}/[^/]+", answer["file"])
    assert LANDING_NAME.match(Path(answer["file"]).name)
    assert receiver.landed_files() == [receiver.landing_dir / answer["file"]]
    envelope = receiver.envelope(response)
    assert (envelope["source"], envelope["event_type"]) == ("github", "push")
    assert envelope["delivery_id"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert envelope["payload"] == json.loads(body)
    assert "delivery_id_derived" not in envelope
    received_at = datetime.fromisoformat(envelope["received_at"])
    assert received_at.utcoffset() == timedelta(0) and abs(datetime.now(UTC) - received_at) < timedelta(minutes=1)
    assert answer["file"].startswith(f"github/{received_at:%Y/%m/%d}/{received_at:%Y%m%dT%H%M%S}")
    assert envelope["headers"] == {
        "user-agent": "GitHub-Hookshot/044aadd",
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-github-hook-id": "292430182",
    }


def test_a_gitlab_delivery_lands_with_its_object_kind_and_event_uuid(receiver: Receiver) -> None:
    body = fixture_bytes(GITLAB_PUSH)
    event_uuid = "b26a4b9e-5b3b-4b0b-a6a3-3c2b7a0b8c11"

    response = receiver.post("/webhooks/gitlab", body, gitlab_headers("Push Hook", event_uuid=event_uuid))

    assert response.status_code == 202, response.text
    envelope = receiver.envelope(response)
    assert (envelope["source"], envelope["event_type"], envelope["delivery_id"]) == ("gitlab", "push", event_uuid)
    assert envelope["payload"] == json.loads(body)
    assert envelope["headers"]["x-gitlab-event"] == "Push Hook"
    assert "x-gitlab-token" not in envelope["headers"]


def test_a_pagerduty_delivery_lands_with_its_event_type_and_id(receiver: Receiver) -> None:
    body = fixture_bytes(PAGERDUTY_TRIGGERED)

    response = receiver.post("/webhooks/pagerduty", body, pagerduty_headers(body))

    assert response.status_code == 202, response.text
    envelope = receiver.envelope(response)
    assert (envelope["source"], envelope["event_type"]) == ("pagerduty", "incident.triggered")
    assert envelope["delivery_id"] == json.loads(body)["event"]["id"] == "01BZYIL05THJDFF2Y08X9SVMTU"
    assert envelope["payload"] == json.loads(body)
    assert set(envelope["headers"]) == {"user-agent", "content-type"}


def test_a_jira_delivery_lands_with_its_webhook_event_and_identifier(receiver: Receiver) -> None:
    body = fixture_bytes(JIRA_ISSUE_UPDATED)
    identifier = "e2b2d8a4-5f1c-4b7e-9a0d-3c6f1e8b7a21"

    response = receiver.post("/webhooks/jira", body, jira_headers(body, identifier=identifier))

    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["event_type"], answer["delivery_id"], answer["delivery_id_derived"]) == (
        "jira:issue_updated",
        identifier,
        False,
    )
    assert re.fullmatch(r"jira/\d{4}/\d{2}/\d{2}/\d{8}T\d{12}Z-[0-9a-f]{32}\.json", answer["file"])
    envelope = receiver.envelope(response)
    assert (envelope["source"], envelope["event_type"], envelope["delivery_id"]) == (
        "jira",
        "jira:issue_updated",
        identifier,
    )
    assert envelope["payload"] == json.loads(body)
    assert envelope["headers"] == {
        "user-agent": "Atlassian Webhook HTTP Client",
        "content-type": "application/json; charset=utf-8",
        "x-atlassian-webhook-identifier": identifier,
        "x-atlassian-webhook-flow": "Primary",
    }


def test_a_jira_delivery_without_an_identifier_gets_the_derived_id(receiver: Receiver) -> None:
    """Jira Server/Data Center send no X-Atlassian-Webhook-Identifier: the id is derived from the
    source, the webhookEvent and the raw body, so a re-post is the same delivery."""
    body = fixture_bytes(JIRA_ISSUE_UPDATED)
    other = body.replace(b'"timestamp": 1550286940507', b'"timestamp": 1550286940508', 1)
    assert other != body

    first = receiver.post("/webhooks/jira", body, jira_headers(body))
    again = receiver.post("/webhooks/jira", body, jira_headers(body))
    later = receiver.post("/webhooks/jira", other, jira_headers(other))

    assert first.status_code == again.status_code == later.status_code == 202
    assert first.json()["delivery_id"] == derived_delivery_id("jira", "jira:issue_updated", body)
    assert first.json()["delivery_id_derived"] is True
    assert again.json()["delivery_id"] == first.json()["delivery_id"] != later.json()["delivery_id"]
    assert receiver.envelope(first)["delivery_id_derived"] is True


def test_a_jenkins_notification_lands_with_its_phase_and_build_as_id(receiver: Receiver) -> None:
    body = fixture_bytes(JENKINS_COMPLETED)

    response = receiver.post("/webhooks/jenkins", body, jenkins_headers())

    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["event_type"], answer["delivery_id"], answer["delivery_id_derived"]) == (
        "build.completed",
        "asgard#18#COMPLETED",
        False,
    )
    assert answer["file"].startswith("jenkins/")
    envelope = receiver.envelope(response)
    assert (envelope["source"], envelope["event_type"], envelope["delivery_id"]) == (
        "jenkins",
        "build.completed",
        "asgard#18#COMPLETED",
    )
    assert envelope["payload"] == json.loads(body)
    assert envelope["headers"] == {"user-agent": "Java/17.0.13", "content-type": "application/json;charset=UTF-8"}
    assert "delivery_id_derived" not in envelope


def test_jenkins_accepts_its_token_as_bearer_or_query_parameter_but_not_as_basic_auth(receiver: Receiver) -> None:
    """The Notification plugin sends no custom headers: its URL can carry ?X-Jenkins-Token=…; a
    sender that can set headers may use Authorization: Bearer. URL user-info (Basic) is no token."""
    body = fixture_bytes(JENKINS_COMPLETED)
    plain = jenkins_headers(token=None)

    bearer = receiver.post("/webhooks/jenkins", body, {**plain, "Authorization": f"Bearer {JENKINS_TOKEN}"})
    query = receiver.post(
        "/webhooks/jenkins", jenkins_phase("STARTED"), plain, params={"X-Jenkins-Token": JENKINS_TOKEN}
    )
    basic = receiver.post("/webhooks/jenkins", body, plain, auth=("jenkins", JENKINS_TOKEN))
    wrong_query = receiver.post("/webhooks/jenkins", body, plain, params={"X-Jenkins-Token": "nope"})

    assert bearer.status_code == 202, bearer.text
    assert query.status_code == 202, query.text
    assert query.json()["delivery_id"] == "asgard#18#STARTED"
    assert basic.status_code == 401 and "X-Jenkins-Token" in basic.json()["error"]
    assert wrong_query.status_code == 401 and basic.json()["error"] != wrong_query.json()["error"]
    assert len(receiver.landed_files()) == 2
    landed = "".join(path.read_text() for path in receiver.landed_files())
    assert JENKINS_TOKEN not in landed and "authorization" not in landed.lower()


def test_missing_signatures_and_tokens_are_refused_with_a_reason(receiver: Receiver) -> None:
    jira = fixture_bytes(JIRA_ISSUE_UPDATED)
    jenkins = fixture_bytes(JENKINS_COMPLETED)

    unsigned_jira = receiver.post("/webhooks/jira", jira, _missing_signature("jira", jira))
    forged_jira = receiver.post("/webhooks/jira", jira, jira_headers(jira, secret=JENKINS_TOKEN))
    sha1_jira = receiver.post(
        "/webhooks/jira", jira, {"X-Hub-Signature": "sha1=" + hmac_hex(hashlib.sha1, JIRA_SECRET, jira)}
    )
    no_token = receiver.post("/webhooks/jenkins", jenkins, jenkins_headers(token=None))
    wrong_token = receiver.post("/webhooks/jenkins", jenkins, jenkins_headers(token=JIRA_SECRET))

    assert [r.status_code for r in (unsigned_jira, forged_jira, sha1_jira, no_token, wrong_token)] == [401] * 5
    assert unsigned_jira.json()["error"] == "missing signature: X-Hub-Signature (sha256=...) is required"
    assert forged_jira.json()["error"] == sha1_jira.json()["error"] == "signature does not match"
    assert no_token.json()["error"] == "missing token: X-Jenkins-Token or Authorization: Bearer is required"
    assert wrong_token.json()["error"] == "token does not match"
    assert receiver.landed_files() == []


def test_legacy_sha1_github_signature_alone_is_accepted(receiver: Receiver) -> None:
    body = fixture_bytes(GITHUB_DEPLOYMENT_STATUS)
    headers = github_headers("deployment_status", body)
    del headers["X-Hub-Signature-256"]

    response = receiver.post("/webhooks/github", body, headers)

    assert response.status_code == 202, response.text
    assert receiver.envelope(response)["event_type"] == "deployment_status"


def _signed(source: str, body: bytes, *, secret: str | None = None) -> dict:
    """Headers that prove ``secret`` (default: the source's own) for ``body``."""
    if source == "github":
        return github_headers("push", body, secret=secret or GITHUB_SECRET)
    if source == "gitlab":
        return gitlab_headers("Push Hook", token=secret or GITLAB_TOKEN)
    if source == "pagerduty":
        return pagerduty_headers(body, secret=secret or PAGERDUTY_SECRET)
    if source == "jira":
        return jira_headers(body, secret=secret or JIRA_SECRET)
    return jenkins_headers(token=secret or JENKINS_TOKEN)


def _missing_signature(source: str, body: bytes) -> dict:
    headers = _signed(source, body)
    for name in (
        "X-Hub-Signature",
        "X-Hub-Signature-256",
        "X-Gitlab-Token",
        "X-PagerDuty-Signature",
        "X-Jenkins-Token",
        "Authorization",
    ):
        headers.pop(name, None)
    return headers


def _wrong_signature(source: str, body: bytes) -> dict:
    return _signed(source, body, secret="not the secret")


def _tampered_body(source: str, body: bytes) -> dict:
    """Signed for another body: the signature no longer covers what is posted (for token
    senders, which sign nothing: a token one character short)."""
    if source == "gitlab":
        return gitlab_headers("Push Hook", token=GITLAB_TOKEN[:-1])
    if source == "jenkins":
        return jenkins_headers(token=JENKINS_TOKEN[:-1])
    return _signed(source, body.replace(b"{", b"{ ", 1))


def _wrong_bearer(source: str, body: bytes) -> dict:
    """Jenkins' other header, with a wrong token; the others' Authorization is no credential."""
    return {**_missing_signature(source, body), "Authorization": "Bearer not-the-token"}


SAMPLE_FOR = {
    "github": GITHUB_PUSH,
    "gitlab": GITLAB_PUSH,
    "pagerduty": PAGERDUTY_RESOLVED,
    "jira": JIRA_ISSUE_UPDATED,
    "jenkins": JENKINS_COMPLETED,
}


def test_every_source_has_a_sample_and_a_route() -> None:
    assert set(SAMPLE_FOR) == set(SOURCES) == set(KNOWN_EVENT_TYPES)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("make_headers", [_missing_signature, _wrong_signature, _tampered_body, _wrong_bearer])
def test_unsigned_or_wrongly_signed_deliveries_are_refused_when_the_secret_is_set(
    receiver: Receiver, source: str, make_headers: Callable[[str, bytes], dict]
) -> None:
    body = fixture_bytes(SAMPLE_FOR[source])

    response = receiver.post(f"/webhooks/{source}", body, make_headers(source, body))

    assert response.status_code == 401
    assert "error" in response.json()
    assert receiver.landed_files() == []


@pytest.mark.parametrize("source", SOURCES)
def test_correctly_signed_deliveries_are_accepted_when_the_secret_is_set(receiver: Receiver, source: str) -> None:
    body = fixture_bytes(SAMPLE_FOR[source])

    response = receiver.post(f"/webhooks/{source}", body, _signed(source, body))

    assert response.status_code == 202, response.text
    envelope = receiver.envelope(response)
    assert envelope["source"] == source and envelope["payload"] == json.loads(body)
    assert envelope["event_type"] in KNOWN_EVENT_TYPES[source]


@pytest.mark.parametrize("source", SOURCES)
def test_unsigned_deliveries_are_accepted_when_no_secret_is_set(
    start_receiver: Callable[..., Receiver], source: str
) -> None:
    receiver = start_receiver(secrets=False)
    body = fixture_bytes(SAMPLE_FOR[source])
    headers = _missing_signature(source, body)

    response = receiver.post(f"/webhooks/{source}", body, headers)

    assert response.status_code == 202, response.text
    assert receiver.envelope(response)["payload"] == json.loads(body)


def test_pagerduty_signature_header_may_hold_several_values(receiver: Receiver) -> None:
    body = fixture_bytes(PAGERDUTY_RESOLVED)
    old = "v1=" + hmac_hex(hashlib.sha256, "rotated-out secret", body)
    new = "v1=" + hmac_hex(hashlib.sha256, PAGERDUTY_SECRET, body)
    headers = {**pagerduty_headers(body), "X-PagerDuty-Signature": f"{old},{new}"}

    accepted = receiver.post("/webhooks/pagerduty", body, headers)
    refused = receiver.post("/webhooks/pagerduty", body, {**headers, "X-PagerDuty-Signature": f"{old},{old}"})

    assert accepted.status_code == 202, accepted.text
    assert receiver.envelope(accepted)["event_type"] == "incident.resolved"
    assert refused.status_code == 401


def test_signatures_may_come_as_query_parameters_as_four_keys_allowed(receiver: Receiver) -> None:
    body = fixture_bytes(GITHUB_PUSH)
    signed = github_headers("push", body)
    github_query = {"X-Hub-Signature": signed.pop("X-Hub-Signature")}
    del signed["X-Hub-Signature-256"]
    gitlab_body = fixture_bytes(GITLAB_DEPLOYMENT)

    github = receiver.post("/webhooks/github", body, signed, params=github_query)
    gitlab = receiver.post(
        "/webhooks/gitlab",
        gitlab_body,
        gitlab_headers("Deployment Hook", token=None),
        params={"x-gitlab-token": GITLAB_TOKEN},
    )
    wrong = receiver.post(
        "/webhooks/gitlab",
        gitlab_body,
        gitlab_headers("Deployment Hook", token=None),
        params={"X-Gitlab-Token": "nope"},
    )

    assert github.status_code == 202, github.text
    assert gitlab.status_code == 202, gitlab.text
    assert receiver.envelope(gitlab)["event_type"] == "deployment"
    assert wrong.status_code == 401


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(start_receiver: Callable[..., Receiver]) -> None:
    receiver = start_receiver(max_body_bytes=4096)
    body = json.dumps({"padding": "x" * 8000}).encode()

    response = receiver.post("/webhooks/github", body, github_headers("push", body))

    assert response.status_code == 413 and "4096" in response.json()["error"]
    assert response.request.headers["content-length"] == str(len(body))
    # A sender that announces a gigabyte and sends nothing is answered at once: the receiver
    # does not wait for (or buffer) a body it will refuse.
    host, port = receiver.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"POST /webhooks/github HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
            b"X-GitHub-Event: push\r\nContent-Length: 1000000000\r\n\r\n"
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413 ")
    assert receiver.landed_files() == []


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(start_receiver: Callable[..., Receiver]) -> None:
    receiver = start_receiver(max_body_bytes=4096)
    body = json.dumps({"padding": "x" * 20_000}).encode()
    small = fixture_bytes(PAGERDUTY_TRIGGERED)

    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    refused = receiver.post("/webhooks/pagerduty", chunks(body), pagerduty_headers(body))
    accepted = receiver.post("/webhooks/pagerduty", chunks(small), pagerduty_headers(small))

    assert "content-length" not in refused.request.headers
    assert refused.request.headers["transfer-encoding"] == "chunked"
    assert refused.status_code == 413 and "4096" in refused.json()["error"]
    assert accepted.status_code == 202, accepted.text
    assert len(receiver.landed_files()) == 1


@pytest.mark.parametrize(
    ("path", "body", "extra_headers", "fragment"),
    [
        ("/webhooks/github", b"this is not json", {}, "not valid JSON"),
        ("/webhooks/github", b'{"zen": "caf\xe9"}', {}, "not valid UTF-8"),
        ("/webhooks/github", b'[{"zen": "a list"}]', {}, "JSON object, not a JSON array"),
        ("/webhooks/github", b'{"zen": "x"}', {"X-GitHub-Event": None}, "missing X-GitHub-Event"),
        ("/webhooks/github", b'{"zen": "\\ud800"}', {}, "unpaired surrogates"),
        ("/webhooks/github", b'{"zen": "x"}', {"X-GitHub-Delivery": "x" * 300}, "delivery id"),
        ("/webhooks/gitlab", b'{"ref": "main"}', {"X-Gitlab-Event": None}, "missing event type"),
        ("/webhooks/pagerduty", b'{"event": {"id": "01ABC"}}', {}, "event.event_type"),
        ("/webhooks/jira", b'{"issue": {"key": "TES-41"}}', {}, "the body has no webhookEvent"),
        ("/webhooks/jira", b'{"webhookEvent": 7}', {}, "the body has no webhookEvent"),
        ("/webhooks/jira", b'{"webhookEvent": "  "}', {}, "the body has no webhookEvent"),
        ("/webhooks/jenkins", b'{"name": "asgard", "url": "job/asgard/"}', {}, "the body has no build object"),
        ("/webhooks/jenkins", b'{"name": "asgard", "build": [18]}', {}, "the body has no build object"),
        ("/webhooks/jenkins", b'{"name": "asgard", "build": {"number": 18}}', {}, "the body has no build.phase"),
        ("/webhooks/jenkins", b'{"name": "a", "build": {"number": 1, "phase": 3}}', {}, "the body has no build.phase"),
        ("/webhooks/jenkins", b'<?xml version="1.0"?><job><name>asgard</name></job>', {}, "not valid JSON"),
    ],
)
def test_bodies_and_headers_that_make_no_delivery_are_refused_with_400(
    start_receiver: Callable[..., Receiver], path: str, body: bytes, extra_headers: dict, fragment: str
) -> None:
    receiver = start_receiver(secrets=False)
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Gitlab-Event": "Push Hook",
        **extra_headers,
    }
    headers = {name: value for name, value in headers.items() if value is not None}

    response = receiver.post(path, body, headers)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert fragment in response.json()["error"]
    assert receiver.landed_files() == []


def test_pings_are_answered_and_not_stored(receiver: Receiver) -> None:
    github_ping = fixture_bytes(GITHUB_PING)
    pagey_ping = json.dumps(
        {"event": {"id": "01DEK4FX5ESW0VL4ZBKPRJ7VX3", "event_type": "pagey.ping", "resource_type": "pagey"}}
    ).encode()

    github = receiver.post("/webhooks/github", github_ping, github_headers("ping", github_ping))
    pagerduty = receiver.post("/webhooks/pagerduty", pagey_ping, pagerduty_headers(pagey_ping))
    root = receiver.post("/", github_ping, github_headers("ping", github_ping))
    unsigned = receiver.post("/webhooks/github", github_ping, {"X-GitHub-Event": "ping"})

    assert github.status_code == 200 and github.json()["status"] == "pong"
    assert pagerduty.status_code == 200 and pagerduty.json()["event_type"] == "pagey.ping"
    assert root.status_code == 204
    assert unsigned.status_code == 401, "a ping is verified like any delivery"
    assert receiver.landed_files() == []


def fourkeys_body(payload: dict) -> bytes:
    """As the generator encodes it: json.dumps with default=str (naive datetimes, no 'T', no zone)."""
    return json.dumps(payload, default=str).encode()


def fourkeys_github_request(event: str, payload: dict) -> tuple[bytes, dict]:
    body = fourkeys_body(payload)
    headers = {
        "Content-Type": "application/json",
        "Mock": "True",
        "X-Github-Event": event,
        "X-Hub-Signature": "sha1=" + hmac_hex(hashlib.sha1, GITHUB_SECRET, body),
        "User-Agent": "GitHub-Hookshot/mock",
    }
    return body, headers


def fourkeys_gitlab_request(event: str, payload: dict) -> tuple[bytes, dict]:
    body = fourkeys_body(payload)
    headers = {
        "Content-Type": "application/json",
        "Mock": "True",
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": GITLAB_TOKEN,
        "User-Agent": "python-requests/2.32.3",
    }
    return body, headers


def fourkeys_history(seed: int = 0) -> list[tuple[bytes, dict]]:
    """One changeset each on GitHub and GitLab, shaped as FOURKEYS-GENERATOR.md describes."""
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)

    def sha(name: str) -> str:
        return hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()

    commits = [{"id": sha(f"c{index}"), "timestamp": now - timedelta(hours=6 - index)} for index in range(3)]
    head = commits[-1]
    github = [
        fourkeys_github_request("push", {"head_commit": commit, "before": "0" * 40, "commits": [commit]})
        for commit in commits[:-1]
    ]
    github += [
        fourkeys_github_request("push", {"head_commit": head, "before": sha("previous"), "commits": commits}),
        fourkeys_github_request(
            "deployment_status",
            {
                "deployment_status": {"updated_at": head["timestamp"], "id": sha("status"), "state": "success"},
                "deployment": {"sha": head["id"]},
            },
        ),
        fourkeys_github_request(
            "issues",
            {
                "issue": {
                    "created_at": head["timestamp"],
                    "updated_at": now,
                    "closed_at": now,
                    "number": 417 + seed,
                    "labels": [{"name": "Incident"}],
                    "body": f"root cause: {head['id']}",
                },
                "repository": {"name": "foobar"},
            },
        ),
    ]
    gitlab = [
        fourkeys_gitlab_request(
            "push", {"object_kind": "push", "before": sha("previous"), "checkout_sha": head["id"], "commits": commits}
        ),
        fourkeys_gitlab_request(
            "deployment",
            {
                "object_kind": "deployment",
                "status": "success",
                "status_changed_at": f"{now:%Y-%m-%d %H:%M:%S} +0200",
                "deployment_id": 1000 + seed,
                "commit_url": f"http://example.com/root/test/commit/{head['id']}",
            },
        ),
        fourkeys_gitlab_request(
            "issues",
            {
                "object_kind": "issue",
                "object_attributes": {
                    "created_at": head["timestamp"],
                    "updated_at": now,
                    "closed_at": now,
                    "id": 417 + seed,
                    "labels": [{"title": "Incident"}],
                    "description": f"root cause: {head['id']}",
                },
            },
        ),
    ]
    return github + gitlab


def test_four_keys_generator_deliveries_posted_to_root_land_and_answer_204(receiver: Receiver) -> None:
    requests = fourkeys_history()

    responses = [receiver.post("/", body, headers) for body, headers in requests]

    assert [response.status_code for response in responses] == [204] * len(requests)
    assert all(response.content == b"" for response in responses)
    envelopes = [json.loads(path.read_text()) for path in receiver.landed_files()]
    assert len(envelopes) == len(requests)
    for envelope in envelopes:
        Envelope.model_validate(envelope)
        assert envelope["delivery_id_derived"] is True
        assert envelope["headers"]["mock"] == "True"
    by_payload = {json.dumps(envelope["payload"], sort_keys=True): envelope for envelope in envelopes}
    for body, headers in requests:
        envelope = by_payload[json.dumps(json.loads(body), sort_keys=True)]
        source = "github" if "X-Github-Event" in headers else "gitlab"
        expected_event = headers.get("X-Github-Event") or json.loads(body)["object_kind"]
        assert (envelope["source"], envelope["event_type"]) == (source, expected_event)
        assert envelope["delivery_id"] == derived_delivery_id(source, expected_event, body)
    sources = Counter(envelope["source"] for envelope in envelopes)
    assert sources == {"github": 5, "gitlab": 3}


def test_root_refuses_unknown_sources_and_bad_signatures_like_the_dedicated_routes(receiver: Receiver) -> None:
    body, headers = fourkeys_github_request("push", {"head_commit": {"id": "a" * 40}, "commits": []})

    not_hookshot = receiver.post("/", body, {**headers, "User-Agent": "curl/8.5.0"})
    forged = receiver.post("/", body, {**headers, "X-Hub-Signature": "sha1=" + "0" * 40})
    no_token = receiver.post("/", b'{"object_kind": "push"}', {"X-Gitlab-Event": "push"})

    assert not_hookshot.status_code == 400 and "unknown source" in not_hookshot.json()["error"]
    assert forged.status_code == 401
    assert no_token.status_code == 401
    assert receiver.landed_files() == []


def test_a_derived_delivery_id_is_the_same_for_an_identical_repost(receiver: Receiver) -> None:
    body, headers = fourkeys_github_request("push", {"head_commit": {"id": "b" * 40}, "commits": []})
    other_body, other_headers = fourkeys_github_request("push", {"head_commit": {"id": "c" * 40}, "commits": []})

    first = receiver.post("/webhooks/github", body, headers)
    again = receiver.post("/webhooks/github", body, headers)
    other = receiver.post("/webhooks/github", other_body, other_headers)

    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["delivery_id"] == again.json()["delivery_id"] != other.json()["delivery_id"]
    assert first.json()["delivery_id"].startswith("sha256:") and first.json()["delivery_id_derived"] is True
    assert first.json()["file"] != again.json()["file"], "each post is its own landing file"


def test_no_secret_reaches_a_log_line_or_a_landed_file(
    start_receiver: Callable[..., Receiver], log_records: list[logging.LogRecord]
) -> None:
    receiver = start_receiver()
    github = fixture_bytes(GITHUB_PUSH)
    gitlab = fixture_bytes(GITLAB_PUSH)
    pagerduty = fixture_bytes(PAGERDUTY_TRIGGERED)
    bearer = {"Authorization": "Bearer identity-token-from-cloud-run"}

    statuses = [
        receiver.post("/webhooks/github", github, {**github_headers("push", github), **bearer}).status_code,
        receiver.post("/webhooks/github", github, github_headers("push", github, secret=GITLAB_TOKEN)).status_code,
        receiver.post("/webhooks/gitlab", gitlab, {**gitlab_headers("Push Hook"), **bearer}).status_code,
        receiver.post(
            "/webhooks/gitlab", gitlab, gitlab_headers("Push Hook", token=None), params={"X-Gitlab-Token": GITLAB_TOKEN}
        ).status_code,
        receiver.post("/webhooks/gitlab", gitlab, gitlab_headers("Push Hook", token=PAGERDUTY_SECRET)).status_code,
        receiver.post("/webhooks/pagerduty", pagerduty, pagerduty_headers(pagerduty)).status_code,
        receiver.post("/", *fourkeys_history()[0]).status_code,
    ]

    assert statuses == [202, 401, 202, 202, 401, 202, 204]
    server_log = server_log_text(log_records)
    assert "signatures verified for: github, gitlab, pagerduty, jira, jenkins\n" in server_log
    assert "POST /webhooks/gitlab 202" in server_log, "the access log is written"
    assert "401 token does not match" in server_log, "refusals are logged with their reason"
    landed = "".join(path.read_text() for path in receiver.landed_files())
    assert len(receiver.landed_files()) == 5
    for secret in (*SECRETS, "identity-token-from-cloud-run"):
        assert secret not in server_log
        assert secret not in landed
    assert "X-Hub-Signature" not in landed and "authorization" not in landed.lower()


def test_jira_and_jenkins_secrets_never_reach_a_log_line_or_a_landed_file(
    start_receiver: Callable[..., Receiver], log_records: list[logging.LogRecord]
) -> None:
    receiver = start_receiver()
    jira = fixture_bytes(JIRA_ISSUE_UPDATED)
    jenkins = fixture_bytes(JENKINS_COMPLETED)
    plain = jenkins_headers(token=None)

    statuses = [
        receiver.post("/webhooks/jira", jira, jira_headers(jira, identifier=str(uuid.uuid4()))).status_code,
        receiver.post("/webhooks/jira", jira, jira_headers(jira, secret=JENKINS_TOKEN)).status_code,
        receiver.post(
            "/webhooks/jira", jira, {"X-Hub-Signature": f"sha256={JIRA_SECRET}", "Content-Type": "application/json"}
        ).status_code,
        receiver.post("/webhooks/jenkins", jenkins, jenkins_headers()).status_code,
        receiver.post(
            "/webhooks/jenkins", jenkins_phase("STARTED"), {**plain, "Authorization": f"Bearer {JENKINS_TOKEN}"}
        ).status_code,
        receiver.post(
            "/webhooks/jenkins", jenkins_phase("FINALIZED"), plain, params={"X-Jenkins-Token": JENKINS_TOKEN}
        ).status_code,
        receiver.post("/webhooks/jenkins", jenkins, jenkins_headers(token=JIRA_SECRET)).status_code,
        receiver.post("/webhooks/jenkins", jenkins, {**plain, "Authorization": f"Bearer {JIRA_SECRET}"}).status_code,
    ]

    assert statuses == [202, 401, 401, 202, 202, 202, 401, 401]
    server_log = server_log_text(log_records)
    assert "signatures verified for: github, gitlab, pagerduty, jira, jenkins\n" in server_log
    assert "POST /webhooks/jenkins 202" in server_log and "POST /webhooks/jira 401" in server_log
    assert "refused jira delivery from 127.0.0.1" in server_log and "401 signature does not match" in server_log
    assert "refused jenkins delivery from 127.0.0.1" in server_log and "401 token does not match" in server_log
    assert "landed jenkins build.finalized delivery asgard#18#FINALIZED as jenkins/" in server_log
    landed = "".join(path.read_text() for path in receiver.landed_files())
    assert len(receiver.landed_files()) == 4
    for secret in SECRETS:
        assert secret not in server_log
        assert secret not in landed
    assert "x-hub-signature" not in landed.lower() and "x-jenkins-token" not in landed.lower()
    assert "authorization" not in landed.lower()


def test_the_delivery_id_never_shapes_the_landing_path(receiver: Receiver, tmp_path: Path) -> None:
    body = fixture_bytes(GITHUB_PUSH)
    before = {path for path in tmp_path.rglob("*") if receiver.landing_dir not in path.parents}
    hostile = ["../../etc/passwd", "/etc/passwd", "..", "a/b\\c*?.json", ".hidden.tmp"]

    responses = [
        receiver.post("/webhooks/github", body, github_headers("push", body, delivery=delivery)) for delivery in hostile
    ]

    assert [response.status_code for response in responses] == [202] * len(hostile)
    for response, delivery in zip(responses, hostile, strict=True):
        relative = response.json()["file"]
        assert re.fullmatch(r"github/\d{4}/\d{2}/\d{2}/\d{8}T\d{12}Z-[0-9a-f]{32}\.json", relative)
        assert receiver.envelope(response)["delivery_id"] == delivery
    assert len(receiver.landed_files()) == len(hostile)
    assert {path for path in tmp_path.rglob("*") if receiver.landing_dir not in path.parents} == before


def test_healthz_reports_whether_the_landing_folder_is_writable(
    start_receiver: Callable[..., Receiver], tmp_path: Path
) -> None:
    healthy = start_receiver()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the landing folder's parent should be")
    broken = start_receiver(blocker / "landing")

    ok = healthy.client.get(healthy.url + "/healthz")
    unavailable = broken.client.get(broken.url + "/healthz")
    body = fixture_bytes(PAGERDUTY_TRIGGERED)
    not_stored = broken.post("/webhooks/pagerduty", body, pagerduty_headers(body))

    assert ok.status_code == 200 and ok.json() == {"status": "ok"}
    assert unavailable.status_code == 503 and "landing folder" in unavailable.json()["error"]
    assert not_stored.status_code == 503
    assert healthy.landed_files() == [], "the probe leaves nothing behind"
    assert healthy.client.post(healthy.url + "/healthz").status_code == 405


# --- ingestion of what the receiver landed -------------------------------------------------------


def test_received_deliveries_reach_bronze_exactly_once(
    data_home: DoraPaths, start_receiver: Callable[..., Receiver]
) -> None:
    receiver = start_receiver(data_home.landing_dir)
    github_push = fixture_bytes(GITHUB_PUSH)
    github_status = fixture_bytes(GITHUB_DEPLOYMENT_STATUS)
    gitlab = fixture_bytes(GITLAB_DEPLOYMENT)
    gitlab_incident = fixture_bytes(GITLAB_INCIDENT)
    triggered = fixture_bytes(PAGERDUTY_TRIGGERED)
    resolved = fixture_bytes(PAGERDUTY_RESOLVED)
    push_headers = github_headers("push", github_push)
    fourkeys = fourkeys_history()
    posts = [
        ("/webhooks/github", github_push, push_headers),
        ("/webhooks/github", github_status, github_headers("deployment_status", github_status)),
        ("/webhooks/gitlab", gitlab, gitlab_headers("Deployment Hook", event_uuid=str(uuid.uuid4()))),
        ("/webhooks/gitlab", gitlab_incident, gitlab_headers("Issue Hook")),  # no event UUID: derived id
        ("/webhooks/pagerduty", triggered, pagerduty_headers(triggered)),
        ("/webhooks/pagerduty", resolved, pagerduty_headers(resolved)),
        *(("/", body, headers) for body, headers in fourkeys),
        ("/webhooks/github", github_push, push_headers),  # GitHub's "Redeliver" button
    ]

    responses = [receiver.post(path, body, headers) for path, body, headers in posts]
    assert all(response.status_code in (202, 204) for response in responses), [r.text for r in responses]
    materialize_everything()

    expected = {response.json()["delivery_id"] for response in responses if response.status_code == 202}
    expected |= {derived_delivery_id(*_fourkeys_identity(body, headers), body) for body, headers in fourkeys}
    rows = query(data_home, "SELECT delivery_id, count(*) FROM bronze.raw_events GROUP BY delivery_id")
    assert dict(rows) == dict.fromkeys(expected, 1)
    assert query(data_home, "SELECT delivery_id FROM bronze.duplicates") == [(push_headers["X-GitHub-Delivery"],)]
    assert query(data_home, "SELECT count(*) FROM bronze.quarantine") == [(0,)]
    sources = query(data_home, "SELECT source, count(*) FROM bronze.raw_events GROUP BY source ORDER BY source")
    assert sources == [("github", 7), ("gitlab", 5), ("pagerduty", 2)]


def test_jira_and_jenkins_deliveries_reach_bronze_once_as_known_event_types(
    start_receiver: Callable[..., Receiver], tmp_path: Path
) -> None:
    """Straight into bronze's own ingestion (no silver): every accepted delivery is a valid
    envelope, its event type is known, and the re-sends the senders make count once."""
    receiver = start_receiver()
    jira = fixture_bytes(JIRA_ISSUE_UPDATED)
    jenkins = fixture_bytes(JENKINS_COMPLETED)
    identifier = str(uuid.uuid4())
    posts = [
        ("/webhooks/jira", jira, jira_headers(jira, identifier=identifier)),
        # Jira Cloud's retry: the same identifier, with a retry count.
        ("/webhooks/jira", jira, {**jira_headers(jira, identifier=identifier), "X-Atlassian-Webhook-Retry": "1"}),
        ("/webhooks/jira", jira, jira_headers(jira)),  # Jira Server: no identifier, a derived id
        ("/webhooks/jira", jira, jira_headers(jira)),  # ... and the same body again
        ("/webhooks/jenkins", jenkins_phase("STARTED"), jenkins_headers()),
        ("/webhooks/jenkins", jenkins, jenkins_headers()),
        ("/webhooks/jenkins", jenkins, jenkins_headers()),  # the endpoint's retry: same build, same phase
        ("/webhooks/jenkins", jenkins_phase("COMPLETED", number=19), jenkins_headers()),
    ]

    responses = [receiver.post(path, body, headers) for path, body, headers in posts]
    assert [response.status_code for response in responses] == [202] * len(posts), [r.text for r in responses]
    assert len(receiver.landed_files()) == len(posts), "every post is its own landing file"

    derived = derived_delivery_id("jira", "jira:issue_updated", jira)
    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    try:
        report = ingest_landing(connection, receiver.landing_dir)
        raw_events = connection.execute(
            "SELECT source, event_type, delivery_id, known_event_type FROM bronze.raw_events"
        ).fetchall()
        duplicates = connection.execute("SELECT delivery_id FROM bronze.duplicates").fetchall()
        quarantined = connection.execute("SELECT count(*) FROM bronze.quarantine").fetchone()
        [(payload,)] = connection.execute(
            "SELECT payload FROM bronze.raw_events WHERE delivery_id = 'asgard#18#COMPLETED'"
        ).fetchall()
    finally:
        connection.close()

    assert sorted(raw_events) == sorted(
        [
            ("jira", "jira:issue_updated", identifier, True),
            ("jira", "jira:issue_updated", derived, True),
            ("jenkins", "build.started", "asgard#18#STARTED", True),
            ("jenkins", "build.completed", "asgard#18#COMPLETED", True),
            ("jenkins", "build.completed", "asgard#19#COMPLETED", True),
        ]
    )
    assert Counter(row[0] for row in duplicates) == {identifier: 1, derived: 1, "asgard#18#COMPLETED": 1}
    assert quarantined == (0,)
    assert json.loads(payload) == json.loads(jenkins)
    totals = report.totals
    assert (totals.seen, totals.landed, totals.quarantined, totals.duplicates) == (8, 5, 0, 3)
    assert totals.balanced


def _fourkeys_identity(body: bytes, headers: dict) -> tuple[str, str]:
    if "X-Github-Event" in headers:
        return "github", headers["X-Github-Event"]
    return "gitlab", json.loads(body)["object_kind"]


def test_concurrent_deliveries_each_land_once_and_reposts_are_duplicates(
    data_home: DoraPaths, start_receiver: Callable[..., Receiver]
) -> None:
    receiver = start_receiver(data_home.landing_dir)
    github_push = fixture_bytes(GITHUB_PUSH)
    distinct = [("/webhooks/github", github_push, github_headers("push", github_push)) for _ in range(150)]
    for seed in range(1, 7):
        distinct += [("/", body, headers) for body, headers in fourkeys_history(seed)]
    distinct += [("/", body, headers) for body, headers in fourkeys_history(7)[:2]]
    assert len(distinct) == 200
    reposts = distinct[::20]  # identical bytes and headers, as a sender's retry would be
    deliveries = distinct + reposts

    def deliver(delivery: tuple[str, bytes, dict]) -> int:
        path, body, headers = delivery
        with httpx.Client(timeout=30) as client:
            return client.post(receiver.url + path, content=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(deliver, deliveries))
    assert Counter(statuses) == {202: 150 + 8, 204: 50 + 2}
    materialize_everything()

    def delivery_id(path: str, body: bytes, headers: dict) -> str:
        if path == "/webhooks/github":
            return headers["X-GitHub-Delivery"]
        return derived_delivery_id(*_fourkeys_identity(body, headers), body)

    expected = Counter(delivery_id(*delivery) for delivery in distinct)
    assert len(expected) == 200
    landed = query(data_home, "SELECT delivery_id, count(*) FROM bronze.raw_events GROUP BY delivery_id")
    assert dict(landed) == dict(expected)
    duplicates = query(data_home, "SELECT delivery_id FROM bronze.duplicates")
    assert Counter(row[0] for row in duplicates) == Counter(delivery_id(*delivery) for delivery in reposts)
    assert query(data_home, "SELECT count(*) FROM bronze.quarantine") == [(0,)]
    files = [path for path in data_home.landing_dir.rglob("*") if path.is_file()]
    assert len(files) == len(deliveries)
    assert not [path for path in files if path.name.startswith(".") or path.suffix != ".json"], "no temp files remain"


# --- the command ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_env(home: Path) -> dict[str, str]:
    """GitHub and Jira verified; GitLab, PagerDuty and Jenkins not (their variables removed)."""
    unset = ("GITLAB_WEBHOOK_TOKEN", "PAGERDUTY_WEBHOOK_SECRET", "JENKINS_WEBHOOK_TOKEN")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DORA_", "DAGSTER_")) and key not in unset
    }
    return env | {"DORA_HOME": str(home), "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET, "JIRA_WEBHOOK_SECRET": JIRA_SECRET}


def test_dora_assets_serve_receives_deliveries_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dora_assets.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=_serve_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                health = httpx.get(url + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "dora-assets serve did not come up"
                time.sleep(0.1)
        body = fixture_bytes(GITHUB_PUSH)
        delivered = httpx.post(url + "/webhooks/github", content=body, headers=github_headers("push", body))
        forged = httpx.post(url + "/webhooks/github", content=body, headers=github_headers("push", body, secret="x"))
        jira = fixture_bytes(JIRA_ISSUE_UPDATED)
        jira_delivered = httpx.post(url + "/webhooks/jira", content=jira, headers=jira_headers(jira))
        jira_forged = httpx.post(url + "/webhooks/jira", content=jira, headers=jira_headers(jira, secret="x"))
        jenkins = fixture_bytes(JENKINS_COMPLETED)
        jenkins_unverified = httpx.post(url + "/webhooks/jenkins", content=jenkins, headers=jenkins_headers(token=None))
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)

    assert health.status_code == 200
    assert delivered.status_code == 202 and forged.status_code == 401
    assert jira_delivered.status_code == 202 and jira_forged.status_code == 401
    assert jenkins_unverified.status_code == 202, "no JENKINS_WEBHOOK_TOKEN: unverified, as announced"
    landed = tmp_path / "home" / "landing" / delivered.json()["file"]
    assert json.loads(landed.read_text())["payload"] == json.loads(body)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "signatures verified for: github, jira\n" in stderr
    assert "gitlab deliveries are NOT verified: GITLAB_WEBHOOK_TOKEN is not set" in stderr
    assert "pagerduty deliveries are NOT verified: PAGERDUTY_WEBHOOK_SECRET is not set" in stderr
    assert "jenkins deliveries are NOT verified: JENKINS_WEBHOOK_TOKEN is not set" in stderr
    assert "jira deliveries are NOT verified" not in stderr
    assert "POST /webhooks/github 202" in stderr and "POST /webhooks/github 401" in stderr
    assert "POST /webhooks/jira 202" in stderr and "POST /webhooks/jira 401" in stderr
    assert GITHUB_SECRET not in stdout + stderr and JIRA_SECRET not in stdout + stderr


def test_dora_assets_serve_on_a_port_in_use_fails_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as occupied:
        occupied.bind(("127.0.0.1", 0))
        occupied.listen()
        port = occupied.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "dora_assets.cli", "serve", "--port", str(port)],
            env=_serve_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("dora-assets serve: error:")]
    assert errors == [f"dora-assets serve: error: cannot listen on 127.0.0.1:{port}: Address already in use"]
