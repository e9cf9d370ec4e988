"""Running the receiver under uvicorn, as ``dora-assets serve`` does.

The listening socket is bound here, before uvicorn starts, so that a port in use or a bad host
is a one-line ``ServeError`` instead of uvicorn's log-and-exit. Proxy headers
(``X-Forwarded-For``/``-Proto``) are honoured only from ``forwarded_allow_ips``. Connections
are served by ``protocol.ReceiverProtocol`` (h11 with the header size limit, the header and body
timeouts and the connection limit); the process's soft limit on open files is raised, when
needed, to hold every connection the limit lets in. SIGTERM (from
systemd, Docker or Kubernetes) stops accepting connections, lets deliveries in progress finish
and exits with status 0.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import resource
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from dora_assets.receiver.app import create_app
from dora_assets.receiver.protocol import connection_ceiling, protocol_for
from dora_assets.receiver.settings import ReceiverSettings
from dora_assets.receiver.store import landing_folder_problem

logger = logging.getLogger("dora_assets.receiver")
GRACEFUL_SHUTDOWN_SECONDS = 30
SPARE_FILE_DESCRIPTORS = 128  # beyond the connections: the listening socket, landing files, logs, threads


class ServeError(Exception):
    """The receiver cannot start; the message is one line for the user."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (port 0 picks a free one); uvicorn listens on it."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ServeError(f"cannot resolve host {host!r}: {error.strerror}") from None
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


def receiver_log_config() -> dict[str, Any]:
    """uvicorn's logging config plus the receiver's own loggers (startup, deliveries, access log)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["receiver"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    config["handlers"]["receiver"] = {
        "formatter": "receiver",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["dora_assets"] = {"handlers": ["receiver"], "level": "INFO", "propagate": False}
    return config


def build_server(
    settings: ReceiverSettings,
    *,
    forwarded_allow_ips: str | None = None,
    log_config: dict[str, Any] | None = None,
) -> uvicorn.Server:
    """A uvicorn server for the receiver app. ``log_config=None`` leaves logging as it is (tests);
    ``forwarded_allow_ips=None`` means uvicorn's default ($FORWARDED_ALLOW_IPS, else 127.0.0.1)."""
    config = uvicorn.Config(
        create_app(settings),
        http=protocol_for(settings),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=False,  # the app logs each request itself, without the query string
        server_header=False,
        lifespan="on",
        log_config=log_config,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return uvicorn.Server(config)


def serve(
    host: str,
    port: int,
    *,
    max_body_bytes: int | None = None,
    forwarded_allow_ips: str | None = None,
    **limits: float | None,
) -> None:
    """Run the receiver until SIGTERM or Ctrl-C. Settings come from the environment now; a
    limit given here (a flag of ``dora-assets serve``, None when not given) wins over its env var."""
    try:
        settings = ReceiverSettings.from_env(max_body_bytes=max_body_bytes, **limits)
    except ValueError as error:
        raise ServeError(str(error)) from None
    try:
        settings.landing_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ServeError(f"cannot create the landing folder {settings.landing_dir}: {error.strerror}") from None
    problem = landing_folder_problem(settings.landing_dir)
    if problem is not None:
        raise ServeError(f"{settings.landing_dir}: {problem}")
    settings = within_open_file_limit(settings)
    server = build_server(settings, forwarded_allow_ips=forwarded_allow_ips, log_config=receiver_log_config())
    sock = listening_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    logger.info(
        "receiver listening on http://%s:%d", f"[{bound_host}]" if ":" in bound_host else bound_host, bound_port
    )
    handles_signals = threading.current_thread() is threading.main_thread()
    previous_sigterm = signal.signal(signal.SIGTERM, _stop_request(server)) if handles_signals else None
    try:
        server.run(sockets=[sock])
    except SystemExit:
        raise ServeError("the receiver did not start; see the log above") from None
    finally:
        sock.close()
        if handles_signals:
            signal.signal(signal.SIGTERM, previous_sigterm or signal.SIG_DFL)
    if not server.started:
        raise ServeError("the receiver did not start; see the log above")


def within_open_file_limit(settings: ReceiverSettings) -> ReceiverSettings:
    """``settings`` with a connection limit the process can hold: the soft limit on open files is
    raised (up to the hard limit) to fit twice ``max_connections`` plus spare descriptors; when
    even the hard limit is too low, ``max_connections`` is lowered, with a warning."""
    needed = connection_ceiling(settings) + SPARE_FILE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError) as error:
            logger.warning("could not raise the open-file limit from %d to %d: %s", soft, raised, error)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return settings
    fitting = max(1, (soft - SPARE_FILE_DESCRIPTORS) // 2)
    logger.warning(
        "max connections lowered from %d to %d: the process may open only %d files (ulimit -n)",
        settings.max_connections,
        fitting,
        soft,
    )
    return dataclasses.replace(settings, max_connections=fitting)


def _stop_request(server: uvicorn.Server) -> Callable[[int, FrameType | None], None]:
    """A SIGTERM handler that asks ``server`` to stop.

    uvicorn shuts down gracefully on SIGTERM and then re-raises the signal with the handler that
    was in place before it started; with this one in place, the process then exits 0 after a
    graceful shutdown instead of dying from the signal.
    """

    def request_stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    return request_stop
