"""The receiver's HTTP/1.1 protocol: uvicorn's h11 protocol (uvicorn is pinned) with the
receiver's connection limits, enforced before the app sees a request.

- **Request head size** (``max_header_bytes``): h11 buffers at most that much of a request
  line and headers; a larger head gets ``431`` and the connection is closed.
- **Header timeout** (``header_timeout``): a connection must deliver a complete request head
  within this many seconds of being opened (or of the first byte of a later request on a
  kept-alive connection); otherwise it gets ``408`` and is closed.
- **Body timeout** (``body_timeout``): the whole body must arrive within this many seconds of
  the request head; otherwise the request gets ``408`` (the app's pending read ends as a
  disconnect and nothing is stored) and the connection is closed.
- **Connections** (``max_connections``): a request whose head arrives while that many requests
  are in progress (their body being received, or being answered) gets ``503`` with
  ``Retry-After`` and ``Connection: close``, without its body being read. At most twice that
  many connections are open: a new connection beyond it closes the connection that has waited
  longest without a request in progress (a slow head, or an idle kept-alive connection), so
  slow connections can neither use up the process's file descriptors nor keep out a sender
  whose request arrives at once. Only when every connection has a request in progress is the
  new one closed instead.

Every cut is logged with the client's address (never a header value), at most one line per
kind every ``LOG_INTERVAL_SECONDS`` with a count of the ones not logged, so that a flood of
connections cannot flood the log.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import time
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from dora_assets.receiver.settings import ReceiverSettings

logger = logging.getLogger("dora_assets.receiver")
CUT_OFF_STATE_KEY = "dora_assets.receiver.cut_off"  # set in the request's scope state on a body timeout
RETRY_AFTER_SECONDS = 5
LOG_INTERVAL_SECONDS = 10.0


class ThrottledLog:
    """Warnings of one kind: the first is logged, then at most one every ``interval`` seconds,
    carrying the number of the ones left out."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self.last = -float("inf")
        self.left_out = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            self.left_out += 1
            return
        if self.left_out:
            message += f" ({self.left_out} more like it were not logged)"
        logger.warning(message, *args)
        self.last, self.left_out = now, 0


def protocol_for(settings: ReceiverSettings) -> type[ReceiverProtocol]:
    """The protocol class uvicorn builds for each connection of a receiver with ``settings``."""
    return type(
        "ConfiguredReceiverProtocol",
        (ReceiverProtocol,),
        {
            "settings": settings,
            "refused_at_accept": ThrottledLog(),
            "evicted": ThrottledLog(),
            "waiting": {},
            "refused_busy": ThrottledLog(),
            "cut_off_head": ThrottledLog(),
            "cut_off_body": ThrottledLog(),
            "refused_large_head": ThrottledLog(),
        },
    )


def connection_ceiling(settings: ReceiverSettings) -> int:
    """At most this many connections are open at once."""
    return 2 * settings.max_connections


class ReceiverProtocol(H11Protocol):
    """uvicorn's ``H11Protocol`` with the receiver's limits; built by ``protocol_for``."""

    settings: ReceiverSettings
    refused_at_accept: ThrottledLog
    evicted: ThrottledLog
    refused_busy: ThrottledLog
    # Connections without a request in progress, the longest waiting first (shared by the server's connections).
    waiting: dict[ReceiverProtocol, None]
    cut_off_head: ThrottledLog
    cut_off_body: ThrottledLog
    refused_large_head: ThrottledLog

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limit_concurrency = None  # uvicorn's own check is replaced by the one in data_received
        self.receiver_app = self.app
        self.deadline: asyncio.TimerHandle | None = None
        self.phase: str | None = None  # "head" or "body" while a deadline runs
        self.opened_at = time.monotonic()

    # --- connection life ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > connection_ceiling(self.settings) and not self._make_room():
            self.refused_at_accept.warning(
                "closed a new connection from %s at once: %d connections are open, all with a request in progress",
                self._client_text(),
                len(self.connections) - 1,
            )
            transport.close()
            return
        self.waiting[self] = None
        self._arm("head")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.waiting.pop(self, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        busy = len(self.tasks) >= self.settings.max_connections
        self.app = self._busy if busy else self.receiver_app
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_request()

    def send_400_response(self, msg: str) -> None:
        """h11 refused the request; a head over ``max_header_bytes`` gets 431 instead of 400."""
        if len(self.conn.trailing_data[0]) > self.settings.max_header_bytes:
            self.refused_large_head.warning(
                "refused a request from %s: its head is larger than %d bytes (431)",
                self._client_text(),
                self.settings.max_header_bytes,
            )
            self._write_and_close(431, f"the request head is larger than {self.settings.max_header_bytes} bytes")
            return
        super().send_400_response(msg)

    # --- the deadlines --------------------------------------------------------------------

    def _make_room(self) -> bool:
        """Close the connection that has waited longest without a request in progress; False
        when there is none."""
        victim = next((protocol for protocol in self.waiting if protocol is not self), None)
        if victim is None:
            return False
        del self.waiting[victim]
        self.evicted.warning(
            "closed the connection from %s, open %.1f s without a request, to make room: %d connections are open, "
            "twice the limit of %d",
            victim._client_text(),
            time.monotonic() - victim.opened_at,
            len(self.connections) - 1,
            self.settings.max_connections,
        )
        victim._disarm()
        victim.transport.close()
        return True

    def _follow_request(self) -> None:
        """Keep the deadline that fits where the request is: its head, its body, or none; and
        keep the connection among the waiting ones exactly while it has no request in progress."""
        if self.transport.is_closing():
            self._disarm()
            self.waiting.pop(self, None)
            return
        state = self.conn.their_state
        in_progress = state is not h11.IDLE or (self.cycle is not None and not self.cycle.response_complete)
        if in_progress:
            self.waiting.pop(self, None)
        elif self not in self.waiting:
            self.waiting[self] = None  # idle again after a response: the newest of the waiting
        if state is h11.IDLE:
            if self.phase != "head" and self.conn.trailing_data[0]:
                self._arm("head")  # a later request on a kept-alive connection has begun
        elif state is h11.SEND_BODY:
            if self.phase != "body":
                self._arm("body")
        else:
            self._disarm()

    def _arm(self, phase: str) -> None:
        self._disarm()
        seconds = self.settings.header_timeout if phase == "head" else self.settings.body_timeout
        self.phase = phase
        self.deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
        self.deadline, self.phase = None, None

    def _expired(self) -> None:
        phase = self.phase
        self.deadline, self.phase = None, None
        if self.transport.is_closing():
            return
        if phase == "head":
            self.cut_off_head.warning(
                "cut off the connection from %s: no complete request head within %g s (408)",
                self._client_text(),
                self.settings.header_timeout,
            )
            self._write_and_close(408, f"the request head did not arrive within {self.settings.header_timeout:g} s")
            return
        cycle = self.cycle
        answered = cycle is None or cycle.response_started
        self.cut_off_body.warning(
            "cut off the connection from %s: %s %s did not send its whole body within %g s%s",
            self._client_text(),
            self.scope["method"] if self.scope else "-",
            _printable(self.scope["path"]) if self.scope else "-",
            self.settings.body_timeout,
            " after it was answered" if answered else " (408; nothing stored)",
        )
        if answered:
            self.transport.close()
            return
        cycle.scope.setdefault("state", {})[CUT_OFF_STATE_KEY] = 408  # type: ignore[typeddict-item]
        cycle.disconnected = True  # the app's pending read ends as a disconnect; its answer goes nowhere
        cycle.message_event.set()
        self._write_and_close(408, f"the request body did not arrive within {self.settings.body_timeout:g} s")

    # --- answers written by the protocol --------------------------------------------------

    async def _busy(self, scope: Any, receive: Any, send: Any) -> None:
        """The answer to a request beyond the connection limit: 503, without reading its body."""
        self.refused_busy.warning(
            "refused a request from %s: %d requests are in progress, the limit is %d (503)",
            self._client_text(),
            len(self.tasks) - 1,
            self.settings.max_connections,
        )
        body = json.dumps({"error": "too many requests in progress; retry later"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _write_and_close(self, status: int, message: str) -> None:
        """A whole response written straight to the socket (h11 may not be able to send one in
        the connection's state), then the connection closed."""
        body = json.dumps({"error": message}).encode()
        head = (
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        self.transport.close()

    def _client_text(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"


def _printable(text: str, limit: int = 200) -> str:
    """Request-derived text made safe for one log line: escapes instead of control characters, capped."""
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."
