"""The webhook receiver's HTTP application (Starlette): ``create_app(settings)``.

Routes:

- ``POST /webhooks/<source>`` for each source of ``SOURCES`` (github, gitlab, pagerduty, jira,
  jenkins): 202 with the delivery id and the landing file once the envelope is on disk; 200 for
  a ping (not stored); 400 for a body or headers that do not make a delivery; 401 for a missing
  or wrong signature or token (only when the source's secret is set); 413 for a body over the
  limit; 503 when the landing folder cannot be written, or when a body over ``large_body_bytes``
  arrives while ``max_large_bodies`` such bodies are already being received or processed.
- ``POST /``: Four Keys' event-handler URL. The source is detected from the headers as Four Keys
  did; same checks and landing; 204 No Content on success, as Four Keys answered.
- ``GET /healthz``: 200 when the landing folder is writable, 503 otherwise.

Request bodies are read in chunks and never held beyond the limit. A missing signature or a
wrong token is refused before the body is read. Parsing, verification and the file write run in
a worker thread, so the event loop keeps serving other requests. A refusal sent before the whole
body was read closes the connection. The connection limits and timeouts are the protocol's
(``protocol.py``). The access log is written here, without query strings (Four Keys senders may
put a token there).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dora_assets.receiver.deliveries import (
    Landed,
    Ping,
    Rejection,
    accept_delivery,
    check_declared_length,
    check_sender_before_body,
    fourkeys_source,
    read_body_within_limit,
)
from dora_assets.receiver.protocol import CUT_OFF_STATE_KEY, RETRY_AFTER_SECONDS, connection_ceiling
from dora_assets.receiver.settings import LIMIT_ENV_VARS, SECRET_ENV_VARS, SOURCES, ReceiverSettings
from dora_assets.receiver.store import landing_folder_problem

logger = logging.getLogger("dora_assets.receiver")
access_logger = logging.getLogger("dora_assets.receiver.access")
MAX_LOGGED_TEXT = 200


def create_app(settings: ReceiverSettings) -> Starlette:
    """The receiver for ``settings``; nothing is read from the environment here."""
    large_bodies = LargeBodies(settings.max_large_bodies)

    def receiver_for(source: str) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            return await _receive(request, settings, large_bodies, source, fourkeys=False)

        return receive

    async def receive_fourkeys(request: Request) -> Response:
        try:
            source = fourkeys_source(request.headers)
        except Rejection as rejection:
            return _refuse(request, "unknown", rejection)
        return await _receive(request, settings, large_bodies, source, fourkeys=True)

    async def healthz(request: Request) -> Response:
        problem = await run_in_threadpool(landing_folder_problem, settings.landing_dir)
        if problem is not None:
            return JSONResponse({"status": "unavailable", "error": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _announce(settings)
        yield
        logger.info("receiver stopped")

    routes = [
        *(Route(f"/webhooks/{source}", receiver_for(source), methods=["POST"]) for source in SOURCES),
        Route("/", receive_fourkeys, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(AccessLogMiddleware)
    return app


class LargeBodies:
    """How many bodies over ``large_body_bytes`` are being received or processed; at most
    ``limit`` at once. Used from the event loop only, so no lock is needed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_progress = 0

    def take(self) -> None:
        """Take a place, or refuse the delivery with 503 when none is free (never wait)."""
        if self.in_progress >= self.limit:
            raise Rejection(
                503, f"too many large bodies at once (the limit is {self.limit}); retry in {RETRY_AFTER_SECONDS} s"
            )
        self.in_progress += 1

    def give_back(self) -> None:
        """Give a place back; when no large body is left, hand the memory they used back to the
        system (the C allocator keeps freed blocks of that size otherwise, and the process's
        RSS would stay at its peak)."""
        self.in_progress -= 1
        if self.in_progress == 0:
            release_freed_memory()


def release_freed_memory() -> None:
    """``malloc_trim(0)`` where the C library has it (glibc); nothing elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


async def _receive(
    request: Request, settings: ReceiverSettings, large_bodies: LargeBodies, source: str, *, fourkeys: bool
) -> Response:
    """Check what can be checked before the body, read it within the limits, then verify, parse
    and land it in a worker thread."""
    body: bytearray | None = None
    holds_large_place = False

    def take_large_place() -> None:
        nonlocal holds_large_place
        large_bodies.take()
        holds_large_place = True

    try:
        declared = check_declared_length(request.headers.get("content-length"), settings.max_body_bytes)
        check_sender_before_body(settings, source, request.headers, request.query_params)
        if declared is not None and declared > settings.large_body_bytes:
            take_large_place()
        async with contextlib.aclosing(request.stream()) as chunks:
            body = await read_body_within_limit(
                chunks,
                settings.max_body_bytes,
                large_body_bytes=None if holds_large_place else settings.large_body_bytes,
                on_large=take_large_place,
            )
        received_at = datetime.now(UTC)
        outcome = await run_in_threadpool(
            accept_delivery, settings, source, request.headers, request.query_params, body, received_at
        )
    except Rejection as rejection:
        _forget_frames(rejection)
        return _refuse(request, source, rejection, close=body is None)
    except ClientDisconnect as disconnect:
        _forget_frames(disconnect)
        cut_off = request.scope.get("state", {}).get(CUT_OFF_STATE_KEY)
        if cut_off is not None:  # the protocol has answered and logged it; this answer goes nowhere
            return Response(status_code=cut_off)
        logger.info("%s delivery abandoned: the client disconnected while sending the body", source)
        return Response(status_code=400)
    except OSError as error:
        _forget_frames(error)
        logger.error(
            "could not store a %s delivery in %s: %s", source, settings.landing_dir, error.strerror or repr(error)
        )
        return JSONResponse({"error": "the delivery could not be stored; retry later"}, status_code=503)
    finally:
        body = None  # dropped before the place is given back, so that its memory can be handed back
        if holds_large_place:
            large_bodies.give_back()
    if isinstance(outcome, Ping):
        logger.info("%s %s answered (not stored)", source, outcome.event_type)
        if fourkeys:
            return Response(status_code=204)
        return JSONResponse({"status": "pong", "source": source, "event_type": outcome.event_type})
    return _accepted(outcome, fourkeys=fourkeys)


def _forget_frames(error: BaseException) -> None:
    """Drop the local variables of the finished frames an exception passed through (the worker
    thread's among them) and its traceback: they hold the body, and an exception caught across
    the thread boundary sits in reference cycles that only the garbage collector frees, which
    kept bodies of refused deliveries in memory long after their answer."""
    traceback.clear_frames(error.__traceback__)
    error.__traceback__ = None


def _accepted(landed: Landed, *, fourkeys: bool) -> Response:
    logger.info(
        "landed %s %s delivery %s%s as %s",
        landed.source,
        _printable(landed.event_type),
        _printable(landed.delivery_id),
        " (derived id)" if landed.delivery_id_derived else "",
        landed.landing_file,
    )
    if fourkeys:
        return Response(status_code=204)
    return JSONResponse(
        {
            "status": "accepted",
            "source": landed.source,
            "event_type": landed.event_type,
            "delivery_id": landed.delivery_id,
            "delivery_id_derived": landed.delivery_id_derived,
            "file": landed.landing_file,
        },
        status_code=202,
    )


def _refuse(request: Request, source: str, rejection: Rejection, *, close: bool = False) -> Response:
    """The refusal as JSON. ``close``: the body was not read to its end, so the connection is
    closed after the answer instead of waiting for (or reading) the rest."""
    logger.warning(
        "refused %s delivery from %s: %d %s", source, _client(request.scope), rejection.status_code, rejection.message
    )
    headers = {"Connection": "close"} if close else {}
    if rejection.status_code == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse({"error": rejection.message}, status_code=rejection.status_code, headers=headers)


def _announce(settings: ReceiverSettings) -> None:
    """The startup lines: where deliveries land, and which sources are verified (never the secrets)."""
    try:
        settings.landing_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        logger.error("cannot create the landing folder %s: %s", settings.landing_dir, error.strerror or repr(error))
    verified = ", ".join(settings.verified_sources) or "none"
    logger.info(
        "receiver landing deliveries in %s (bodies up to %d bytes); signatures verified for: %s",
        settings.landing_dir,
        settings.max_body_bytes,
        verified,
    )
    logger.info(
        "receiver limits: %s; at most %d connections open",
        ", ".join(
            f"{LIMIT_ENV_VARS[name]}={value:g}" if isinstance(value, float) else f"{LIMIT_ENV_VARS[name]}={value}"
            for name, value in settings.limits().items()
        ),
        connection_ceiling(settings),
    )
    for source in settings.unverified_sources:
        logger.warning(
            "%s deliveries are NOT verified: %s is not set, so anyone who can reach this server can post them",
            source,
            SECRET_ENV_VARS[source],
        )


class AccessLogMiddleware:
    """One log line per request: client, method, path (never the query string), status, time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            access_logger.info(
                "%s %s %s %d %.1f ms",
                _client(scope),
                scope["method"],
                _printable(scope["path"]),
                status_code,
                (time.perf_counter() - started) * 1000,
            )


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


def _printable(text: str) -> str:
    """Request-derived text made safe for one log line: escapes instead of control characters, capped."""
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= MAX_LOGGED_TEXT else text[: MAX_LOGGED_TEXT - 3] + "..."
