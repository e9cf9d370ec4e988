"""The receiver's limits, against the real `dora-assets serve` process on 127.0.0.1 with real
sockets: JSON nesting depth (400, never 500), payloads kept as the JSON value posted (or refused),
the request head size (431), the header and body timeouts (408), the connection limit (503,
file descriptors bounded) and the bound on concurrent large bodies (503, memory bounded).

Each limit is set small through its environment variable so that every test takes seconds.
Memory is the server process's own, read from /proc/<pid>/status (VmHWM is its peak RSS).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dora_assets_tests.helpers import cli_env

GITHUB_SECRET = "gh-secret-limits-1b2c3d4e-never-logged"
MIB = 1024 * 1024


@dataclass
class Served:
    """A running `dora-assets serve` process."""

    process: subprocess.Popen
    url: str
    port: int
    landing_dir: Path
    log_path: Path

    def post_github(self, body: bytes, *, secret: str = GITHUB_SECRET, timeout: float = 30) -> httpx.Response:
        return httpx.post(
            self.url + "/webhooks/github", content=body, headers=github_headers(body, secret), timeout=timeout
        )

    def memory_kib(self, field: str) -> int:
        """``VmRSS`` (resident now) or ``VmHWM`` (the peak so far) of the server process, in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc/{self.process.pid}/status")

    def open_descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def landed_files(self) -> list[Path]:
        return sorted(path for path in self.landing_dir.rglob("*") if path.is_file())


def github_headers(body: bytes, secret: str = GITHUB_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/044aadd",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def raw_head(path: str, headers: dict[str, str], *, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: receiver", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(home: Path, limits: dict[str, str], flags: tuple[str, ...] = ()) -> Served:
    port = _free_port()
    env = cli_env(home, {"GITHUB_WEBHOOK_SECRET": GITHUB_SECRET, **limits})
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dora_assets.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *flags],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = Served(process, f"http://127.0.0.1:{port}", port, home / "landing", log_path)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, served.log()
        try:
            if httpx.get(served.url + "/healthz", timeout=2).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "dora-assets serve did not come up"
        time.sleep(0.1)


def _stop(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    try:
        served.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
    log = served.log()
    assert "Traceback" not in log, log
    assert GITHUB_SECRET not in log


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `dora-assets serve` with the given DORA_RECEIVER_* limits; stopped after the test."""
    started: list[Served] = []

    def start(*flags: str, **limits: str) -> Served:
        served = _start(tmp_path / f"home{len(started)}", limits, flags)
        started.append(served)
        return served

    yield start
    for served in started:
        _stop(served)


@pytest.fixture(scope="module")
def default_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One receiver with the default limits, shared by the body tests of this module."""
    served = _start(tmp_path_factory.mktemp("receiver-defaults"), {})
    yield served
    _stop(served)


def read_answer(sock: socket.socket, *, within: float) -> bytes:
    """What the server sends before it closes the connection or ``within`` seconds pass; a reset
    connection counts as closed."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionError:
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the connection was still open after {within} s; received {received[:200]!r}")


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


# --- 6. JSON nesting depth: one limit, 400 beyond it, never 500 -------------------------------


def nested(depth: int) -> bytes:
    """A JSON object nesting ``depth`` arrays and objects: an object, then arrays inside it."""
    if depth == 1:
        return b"{}"
    return b'{"deep":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("depth", [1, 10, 128, 129, 255, 256, 300, 999, 1000, 5000, 100_000])
def test_json_nesting_beyond_128_levels_is_refused_with_400_never_500(default_receiver: Served, depth: int) -> None:
    body = nested(depth)

    response = default_receiver.post_github(body)

    if depth <= 128:
        assert response.status_code == 202, response.text
        landed = json.loads((default_receiver.landing_dir / response.json()["file"]).read_text())
        assert landed["payload"] == json.loads(body)
    else:
        assert response.status_code == 400, response.text
        assert response.json() == {"error": "body nests arrays and objects deeper than 128 levels"}


def test_the_nesting_limit_is_a_setting_and_its_flag_wins_over_its_env_var(serve: Callable[..., Served]) -> None:
    served = serve("--max-json-depth", "20", DORA_RECEIVER_MAX_JSON_DEPTH="30")

    assert served.post_github(nested(20)).status_code == 202
    refused = served.post_github(nested(21))

    assert refused.status_code == 400 and refused.json()["error"].endswith("deeper than 20 levels")
    assert "DORA_RECEIVER_MAX_JSON_DEPTH=20" in served.log()


# --- 14. The payload is the JSON value posted, or the delivery is refused ---------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"a": 1e99999}', "the number 1e99999 is beyond the range of a double"),
        (b'{"a": -1E400}', "the number -1E400 is beyond the range of a double"),
        (b'{"a": 1e-400}', "the number 1e-400 is too small for a double (it would become 0)"),
        (b'{"a": 1, "a": 2}', 'the key "a" appears twice in one object'),
        (b'{"commits": [{"id": "x", "id": "y"}]}', 'the key "id" appears twice in one object'),
    ],
)
def test_a_body_whose_value_cannot_be_kept_is_refused_with_400(
    default_receiver: Served, body: bytes, fragment: str
) -> None:
    before = default_receiver.landed_files()

    response = default_receiver.post_github(body)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "body cannot be kept as posted: " + fragment
    assert default_receiver.landed_files() == before


def test_an_accepted_payload_lands_as_the_same_json_value_in_the_same_key_order(default_receiver: Served) -> None:
    body = (
        b'{"zeta": 1, "alpha": {"b": [1, 2.5, -0.0, 0e0, 1E2, 123456789012345678901234567890],'
        b' "a": null}, "text": "caf\\u00e9 \xe2\x9c\x93", "big": 1.7976931348623157e308, "small": 5e-324,'
        b' "empty": {}, "list": [], "t": true, "f": false}'
    )

    response = default_receiver.post_github(body)

    assert response.status_code == 202, response.text
    landed = json.loads((default_receiver.landing_dir / response.json()["file"]).read_text())["payload"]
    posted = json.loads(body)
    assert landed == posted
    assert json.dumps(landed) == json.dumps(posted), "same values, same key order, same number types"
    assert landed["alpha"]["b"][5] == 123456789012345678901234567890


# --- 7. Request heads: size and time ----------------------------------------------------------


def test_an_oversized_request_head_is_refused_with_431_before_it_is_buffered(serve: Callable[..., Served]) -> None:
    served = serve(DORA_RECEIVER_MAX_HEADER_BYTES="16384")
    peak_before = served.memory_kib("VmHWM")
    head = b"GET /healthz HTTP/1.1\r\nHost: receiver\r\nX-Padding: "
    chunk = b"a" * MIB

    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        try:
            sock.sendall(head)
            for _ in range(64):  # up to a 64 MiB header, stopped when the server closes
                sock.sendall(chunk)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_answer(sock, within=10)

    assert status_of(answer) in (431, None), answer[:200]  # a 431, or the connection closed
    assert served.memory_kib("VmHWM") - peak_before < 20 * 1024, "the header was buffered"
    assert "its head is larger than 16384 bytes (431)" in served.log()
    assert httpx.get(served.url + "/healthz", timeout=5).status_code == 200
    normal = b'{"zen": "x"}'
    assert served.post_github(normal).status_code == 202, "an ordinary delivery's head is well within the limit"


def test_slow_request_heads_are_cut_off_with_408_within_the_header_timeout(serve: Callable[..., Served]) -> None:
    served = serve(DORA_RECEIVER_HEADER_TIMEOUT="1")
    body = b'{"zen": "x"}'
    head = raw_head("/webhooks/github", github_headers(body) | {"Content-Length": str(len(body))})
    silent = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    trickle = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    started = time.monotonic()
    cut_at: float | None = None
    try:
        for position in range(len(head)):  # one byte every 0.1 s: the head would take over 20 s
            try:
                trickle.sendall(head[position : position + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            trickle.settimeout(0.1)
            try:
                trickle.recv(65536, socket.MSG_PEEK)
                break  # the server has answered, or closed the connection
            except TimeoutError:
                pass
            except ConnectionError:
                break
            assert time.monotonic() - started < 10, "the trickled head was not cut off within 10 s"
        cut_at = time.monotonic() - started
        trickled_answer = read_answer(trickle, within=5)
        silent_answer = read_answer(silent, within=5)
    finally:
        silent.close()
        trickle.close()

    assert cut_at is not None and cut_at < 10
    assert status_of(trickled_answer) == 408, trickled_answer[:200]
    assert json.loads(trickled_answer.partition(b"\r\n\r\n")[2]) == {
        "error": "the request head did not arrive within 1 s"
    }
    assert status_of(silent_answer) == 408, "a connection that sends nothing is cut off too"
    assert "no complete request head within 1 s (408)" in served.log()
    assert served.landed_files() == []
    assert served.post_github(body).status_code == 202


def test_a_trickled_body_is_cut_off_with_408_and_nothing_lands(serve: Callable[..., Served]) -> None:
    served = serve(DORA_RECEIVER_BODY_TIMEOUT="2")
    body = json.dumps({"zen": "x" * 1500}).encode()  # 1.5 KB at 50 B/s would take 30 s
    head = raw_head("/webhooks/github", github_headers(body) | {"Content-Length": str(len(body))})
    started = time.monotonic()

    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(0.1)
        answer = b""
        for position in range(0, len(body), 5):
            assert time.monotonic() - started < 10, "the trickled body was not cut off within 10 s"
            try:
                sock.sendall(body[position : position + 5])
                answer = sock.recv(65536)
                break  # the server has answered, or closed (b"")
            except TimeoutError:
                continue
            except ConnectionError:
                break
        answer += read_answer(sock, within=5)

    assert status_of(answer) == 408, answer[:200]
    assert b"the request body did not arrive within 2 s" in answer
    assert served.landed_files() == []
    assert "did not send its whole body within 2 s (408; nothing stored)" in served.log()
    assert served.post_github(body).status_code == 202, "a delivery sent at once still lands"


# --- 7. Connections ---------------------------------------------------------------------------


def wait_until_healthy(served: Served, *, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(served.url + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the receiver did not serve /healthz again within {within} s"
        time.sleep(0.2)


def test_requests_beyond_the_limit_in_progress_get_503_until_the_body_timeout_frees_them(
    serve: Callable[..., Served],
) -> None:
    served = serve(DORA_RECEIVER_MAX_CONNECTIONS="4", DORA_RECEIVER_BODY_TIMEOUT="5")
    body = b'{"zen": "' + b"x" * 90 + b'"}'
    head = raw_head("/webhooks/github", github_headers(body) | {"Content-Length": str(len(body))})
    slow: list[socket.socket] = []
    refused_early = None
    try:
        for _ in range(8):  # requests whose body never comes, until one is refused at once
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.sendall(head + body[:10])
            sock.settimeout(0.3)
            try:
                refused_early = sock.recv(65536)
            except TimeoutError:
                slow.append(sock)
                continue
            sock.close()
            break
        busy = httpx.get(served.url + "/healthz", timeout=5)
        wait_until_healthy(served, within=15)  # the body timeout cuts the slow requests
        delivered = served.post_github(body)
    finally:
        for sock in slow:
            sock.close()

    assert len(slow) >= 4 and status_of(refused_early or b"") == 503
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    assert busy.headers["connection"] == "close"
    assert busy.json() == {"error": "too many requests in progress; retry later"}
    assert delivered.status_code == 202, delivered.text
    assert len(served.landed_files()) == 1
    log = served.log()
    assert "requests are in progress, the limit is 4 (503)" in log
    assert "did not send its whole body within 5 s (408; nothing stored)" in log


def test_a_flood_of_slow_connections_neither_exhausts_descriptors_nor_keeps_deliveries_out(
    serve: Callable[..., Served],
) -> None:
    served = serve(DORA_RECEIVER_MAX_CONNECTIONS="10", DORA_RECEIVER_HEADER_TIMEOUT="60")
    descriptors_before = served.open_descriptors()
    flood: list[socket.socket] = []
    try:
        for _ in range(100):  # five times the 20 connections the receiver keeps open; none finishes its head
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: receiver\r\n")
            flood.append(sock)
        deadline = time.monotonic() + 5
        while served.open_descriptors() > descriptors_before + 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        descriptors_while_flooded = served.open_descriptors()
        # No timeout has freed anything (60 s): a request that arrives at once is served all the same.
        health = httpx.get(served.url + "/healthz", timeout=5)
        delivered = served.post_github(b'{"zen": "during the flood"}')
        still_open = sum(1 for sock in flood[-10:] if _open(sock))
    finally:
        for sock in flood:
            sock.close()

    assert descriptors_while_flooded <= descriptors_before + 20, "at most twice the limit of connections are open"
    assert health.status_code == 200
    assert delivered.status_code == 202, delivered.text
    assert still_open >= 8, "the newest slow connections are kept; the oldest make room"
    assert "without a request, to make room: " in served.log()


def _open(sock: socket.socket) -> bool:
    """True when the server has neither closed nor answered the connection."""
    sock.settimeout(0.01)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except TimeoutError:
        return True
    except ConnectionError:
        return False
    return False  # closed (nothing to read) or answered


# --- 7. Large bodies --------------------------------------------------------------------------


def _post_head_first(served: Served, body_size: int, results: list[int | None], index: int) -> None:
    """A wrongly signed 24 MiB delivery whose head goes first: a server that answers within 5 s
    is never sent the body; one that waits for it gets it all."""
    body = b'{"zen": "' + b"x" * (body_size - 11) + b'"}'
    headers = github_headers(b"", secret="wrong") | {"Content-Length": str(len(body))}
    with socket.create_connection(("127.0.0.1", served.port), timeout=30) as sock:
        sock.sendall(raw_head("/webhooks/github", headers))
        sock.settimeout(5)
        try:
            early = sock.recv(65536)
        except TimeoutError:
            early = None
        if early is not None:
            results[index] = status_of(early)
            return
        sock.settimeout(30)
        with contextlib.suppress(ConnectionError):
            sock.sendall(body)
        results[index] = status_of(read_answer(sock, within=30))


def take_every_large_body_place(served: Served) -> list[socket.socket]:
    """Connections that each declare a 20 MiB body and send 64 KiB of it, opened one by one until
    the receiver refuses one at once (every place taken): they hold their places until closed.
    However slowly the receiver runs, the places are known to be taken when this returns."""
    holders: list[socket.socket] = []
    headers = github_headers(b"", secret="wrong") | {"Content-Length": str(20 * MIB)}
    for _ in range(8):
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        sock.sendall(raw_head("/webhooks/github", headers) + b" " * 65536)
        sock.settimeout(1)
        try:
            refused = sock.recv(65536)
        except TimeoutError:
            holders.append(sock)
            continue
        sock.close()
        assert status_of(refused) == 503, refused[:200]
        return holders
    return holders


def test_large_bodies_beyond_the_bound_get_503_without_being_buffered(serve: Callable[..., Served]) -> None:
    served = serve(DORA_RECEIVER_LARGE_BODY_BYTES=str(MIB), DORA_RECEIVER_MAX_LARGE_BODIES="2")
    peak_before = served.memory_kib("VmHWM")
    holders = take_every_large_body_place(served)  # two large bodies in progress
    try:
        results: list[int | None] = [None] * 8
        senders = [threading.Thread(target=_post_head_first, args=(served, 24 * MIB, results, i)) for i in range(8)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=120)
        peak_growth_mib = (served.memory_kib("VmHWM") - peak_before) / 1024
        small = served.post_github(b'{"zen": "small bodies are not bounded"}')
    finally:
        for sock in holders:
            sock.close()

    assert results == [503] * 8
    assert peak_growth_mib < 40, f"the server's peak RSS grew by {peak_growth_mib:.0f} MiB"
    assert small.status_code == 202
    assert "too many large bodies at once (the limit is 2); retry in 5 s" in served.log()
    # The places are given back: a large signed delivery lands once the holders are gone.
    large = json.dumps({"zen": "y" * (2 * MIB)}).encode()
    deadline = time.monotonic() + 10
    while (landed := served.post_github(large)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert landed.status_code == 202, landed.text


def test_a_missing_signature_is_refused_before_the_body_is_read(serve: Callable[..., Served]) -> None:
    served = serve()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "Content-Length": str(20 * MIB)}

    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(raw_head("/webhooks/github", headers))
        answer = read_answer(sock, within=10)

    assert status_of(answer) == 401 and b"missing signature" in answer
    assert b"connection: close" in answer.lower()


def test_a_chunked_body_crossing_the_large_size_gets_503_when_no_place_is_free(serve: Callable[..., Served]) -> None:
    served = serve(DORA_RECEIVER_LARGE_BODY_BYTES=str(MIB), DORA_RECEIVER_MAX_LARGE_BODIES="1")
    holders = take_every_large_body_place(served)
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            headers = github_headers(b"", secret="wrong") | {"Transfer-Encoding": "chunked"}
            sock.sendall(raw_head("/webhooks/github", headers))
            sock.sendall(b"%x\r\n" % MIB + b" " * MIB + b"\r\n")  # exactly the large size: still small
            sock.sendall(b"1\r\n \r\n")  # one byte more: large
            answer = read_answer(sock, within=10)
    finally:
        for holder in holders:
            holder.close()

    assert status_of(answer) == 503, answer[:200]
    assert b"too many large bodies at once (the limit is 1); retry in 5 s" in answer


def test_the_header_timeout_counts_from_a_request_s_first_byte_on_a_kept_alive_connection(
    serve: Callable[..., Served],
) -> None:
    served = serve(DORA_RECEIVER_HEADER_TIMEOUT="1")

    with httpx.Client(timeout=10) as client:
        first = client.post(served.url + "/webhooks/github", content=b"{}", headers=github_headers(b"{}"))
        time.sleep(2)  # idle on the kept-alive connection, longer than the header timeout
        second = client.post(served.url + "/webhooks/github", content=b"{}", headers=github_headers(b"{}"))

    assert first.status_code == second.status_code == 202
    assert "no complete request head" not in served.log()


def test_a_bad_limit_stops_serve_with_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path, {"DORA_RECEIVER_MAX_JSON_DEPTH": "999"})

    result = subprocess.run(
        [sys.executable, "-m", "dora_assets.cli", "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "dora-assets serve: error: --max-json-depth (DORA_RECEIVER_MAX_JSON_DEPTH) must be from 1 to 250, got 999"
    )


def test_payloads_at_the_nesting_limit_and_with_unusual_numbers_reach_bronze_as_posted(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    from dora_assets.ingestion.ingest import ingest_landing
    from dora_assets.resources import connect_warehouse

    served = serve()
    bodies = [nested(128), b'{"n": [1.5, 1E2, -0.0, 123456789012345678901234567890, 5e-324], "s": "caf\\u00e9"}']
    responses = [served.post_github(body) for body in bodies]
    assert [response.status_code for response in responses] == [202, 202], [r.text for r in responses]

    connection = connect_warehouse(str(tmp_path / "warehouse.duckdb"))
    try:
        report = ingest_landing(connection, served.landing_dir)
        rows = connection.execute("SELECT delivery_id, payload FROM bronze.raw_events").fetchall()
    finally:
        connection.close()

    assert report.totals.landed == 2 and report.totals.quarantined == 0
    by_id = dict(rows)
    for response, body in zip(responses, bodies, strict=True):
        assert json.loads(by_id[response.json()["delivery_id"]]) == json.loads(body)


def test_the_memory_of_refused_large_bodies_is_handed_back(serve: Callable[..., Served]) -> None:
    served = serve(DORA_RECEIVER_MAX_LARGE_BODIES="4")
    resident_before = served.memory_kib("VmRSS")
    body = b'{"zen": "' + b"x" * (24 * MIB) + b'"}'
    statuses: list[int] = []

    def post_wrongly_signed() -> None:
        statuses.append(served.post_github(body, secret="wrong", timeout=60).status_code)

    posters = [threading.Thread(target=post_wrongly_signed) for _ in range(4)]
    for poster in posters:
        poster.start()
    for poster in posters:
        poster.join(timeout=120)
    peak_growth_mib = (served.memory_kib("VmHWM") - resident_before) / 1024
    deadline = time.monotonic() + 5
    while (held_mib := (served.memory_kib("VmRSS") - resident_before) / 1024) > 24 and time.monotonic() < deadline:
        time.sleep(0.2)

    assert statuses == [401] * 4
    assert peak_growth_mib > 24, "the bodies were received whole (each had a place)"
    assert held_mib < 24, f"the server still holds {held_mib:.0f} MiB more than before the bodies came"
