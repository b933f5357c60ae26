"""Serve an app under uvicorn with uvloop as the event loop and httptools as the HTTP parser.

    python -m catalyst_runtime.serve hello_svc.main:app --host 127.0.0.1 --port 8000 [--reload]

(``--server granian``: under granian instead, with the same settings; ``serve_granian``.)

uvicorn's ``loop="uvloop"`` makes its loop factory ``uvloop.new_event_loop`` (no
``uvloop.install()``, which current uvloop deprecates) and ``http="httptools"`` picks its
httptools protocol; both are named explicitly so a missing wheel fails loudly at start-up
instead of silently falling back to asyncio and h11.

The server's own limits come from ``Settings`` (``CATALYST_*`` variables, docs/runtime.md,
"Limits"): ``CATALYST_MAX_CONNECTIONS`` (uvicorn's ``limit_concurrency``: past it, a 503),
``CATALYST_KEEP_ALIVE_TIMEOUT``, ``CATALYST_SHUTDOWN_TIMEOUT`` (uvicorn's graceful-shutdown
bound: requests still running then are cancelled), and, enforced by ``LimitedHttpToolsProtocol``,
``CATALYST_MAX_HEADER_BYTES`` (a bigger request head is a 431) and ``CATALYST_HEADER_TIMEOUT``
(a connection that has not sent a complete request head in that time gets a 408 and is closed:
the slowloris defence, which uvicorn does not have).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from functools import cache
from time import monotonic
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import ChangeReload

from .config import Settings
from .errors import ConfigError
from .probes import begin_draining

__all__ = [
    "ConfigErrorLine",
    "LimitedHttpToolsProtocol",
    "SignalBurstServer",
    "build_parser",
    "log_config",
    "main",
]

HTTP = "httptools"
LOOP = "uvloop"
YOUNG_THRESHOLD = 10_000  # the collector's first threshold once the app has started
_logger = logging.getLogger("catalyst_runtime")


@cache
def _settings() -> Settings:
    """The server's settings, read once per process (worker processes read their own)."""
    return Settings.from_env()


class _HeadTooLarge(Exception):
    pass


def _expects_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a request head (names in lower case, as uvicorn keeps them) says a body follows."""
    for name, value in headers:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on the request head, in size and in time.

    uvicorn enforces neither with httptools: a head may grow without limit, and a connection
    that never finishes its head (or never sends one) is kept for ever, so a few hundred slow
    clients hold the server's file descriptors. Here a head over ``max_header_bytes`` (request
    line and headers) is answered 431, and a connection that has not completed a head
    ``header_timeout`` seconds after it opened (or after its previous request's head began) is
    answered 408; both close the connection.

    A request whose head says a body follows and whose body has not all arrived ``body_timeout``
    seconds after the head is answered 408 too, unless the app has begun its answer. ``read_input``
    bounds the body's time once its first bytes are in, but the app cannot time the wait for
    them without paying for a timer on every request; here it is one timer per request with a body.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self._max_head = settings.max_header_bytes
        self._head_timeout = settings.header_timeout
        self._head_size = 0  # bytes of the current head seen by the callbacks
        self._head_raw = 0  # bytes received while a head was still incomplete
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timeout = settings.body_timeout
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()  # a connection that never says anything is dropped too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, plus the size checks: the callbacks count what the parser delivers, the
        # raw count bounds a head still incomplete (httptools buffers a header it is still
        # reading, so its size would otherwise only be known when it ends).
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except Exception as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._reject(431, b"Request Header Fields Too Large")
            else:
                self._parser_error(exc)
            return
        if self._in_head:
            self._head_raw += len(data)
            if self._head_raw > self._max_head:
                self._reject(431, b"Request Header Fields Too Large")

    def _parser_error(self, exc: Exception) -> None:
        import httptools

        if isinstance(exc, httptools.HttpParserUpgrade):
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        elif isinstance(exc, httptools.HttpParserError):
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
        else:
            raise exc

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_size = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_raw = 0
        self._disarm_head_timer()
        super().on_headers_complete()
        # Only for the request this head started (an upgrade starts none), and not for one
        # queued behind a running request: its body is not read until it runs.
        cycle = self.cycle
        if (
            cycle is not None
            and cycle.scope is self.scope
            and not self.pipeline
            and _expects_body(self.headers)
        ):
            self._body_timer = self.loop.call_later(self._body_timeout, self._body_timed_out, cycle)

    def on_message_complete(self) -> None:
        self._disarm_body_timer()
        super().on_message_complete()

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self, cycle: Any) -> None:
        self._body_timer = None
        if cycle is not self.cycle or self.transport.is_closing():
            return
        if not cycle.response_started:
            self._reject(408, b"Request Timeout")
        elif cycle.response_complete:
            self.transport.close()  # answered without its body, which never came: not reusable

    def _count(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self._max_head:
            raise _HeadTooLarge

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # a pipelined head behind a running request: wait for it
            return
        self._reject(408, b"Request Timeout")

    def _reject(self, status: int, phrase: bytes) -> None:
        _logger.debug("closing connection from %s: %d %s", self.client, status, phrase.decode())
        self._disarm_head_timer()
        self._disarm_body_timer()
        body = phrase + b"\n"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, phrase, len(body), body)
        )
        self.transport.close()


class ConfigErrorLine(logging.Filter):
    """A start-up stopped by a ``ConfigError`` (a setting missing, a package not installed) is
    logged as its one line, ``ConfigError: <what to fix>``, instead of a traceback through
    uvicorn and starlette (starlette hands uvicorn the formatted traceback as the message). The
    Nx ``serve`` executor reads the same words off either form."""

    _PREFIX = f"{ConfigError.__module__}.{ConfigError.__qualname__}: "

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Traceback"):
            last = message.rstrip().rpartition("\n")[2]
            if last.startswith(self._PREFIX):
                record.msg, record.args = f"ConfigError: {last[len(self._PREFIX) :]}", ()
        return True


def log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging configuration, plus the runtime's own logger (``catalyst_runtime``:
    node failures, clients that left, cache failures) on the same handler and level.

    ``log_format``: ``text`` (uvicorn's lines), ``json`` (``logs.JsonFormatter`` for every
    line, the access log included) or ``auto`` (text on a terminal, else JSON). A start-up
    ``ConfigError`` is logged as one line (``ConfigErrorLine``)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["config_error_line"] = {"()": ConfigErrorLine}
    config["loggers"]["uvicorn.error"]["filters"] = ["config_error_line"]
    if log_format == "auto":
        log_format = "text" if sys.stderr.isatty() else "json"
    if log_format == "json":
        for formatter in config["formatters"].values():
            formatter.clear()
            formatter["()"] = "catalyst_runtime.logs.JsonFormatter"
    config["loggers"]["catalyst_runtime"] = {
        "handlers": ["default"],
        "level": LOG_LEVELS[level],
        "propagate": False,
    }
    return config


class SignalBurstServer(uvicorn.Server):
    """uvicorn's server, taking a burst of stop signals as one.

    A Ctrl-C in a terminal reaches every process of the foreground group, and the launchers in
    between (uv, the Nx executor) forward it too, so the server can see SIGINT two or three times
    within milliseconds. uvicorn reads a second SIGINT as "force quit" and then skips the app's
    shutdown, so pools would not be closed. Here a repeated SIGINT forces only when it comes
    ``force_after`` seconds or more after the first: a person pressing Ctrl-C again because
    shutdown hangs still gets a forced stop.
    """

    force_after = 1.0

    def __init__(self, config: uvicorn.Config, *, drain_seconds: float = 0.0) -> None:
        super().__init__(config)
        self._first_exit: float | None = None
        self.drain_seconds = drain_seconds
        self._drain_until: float | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # What exists once the app has started (the imported modules, FastAPI's and pydantic's
        # schemas, the pools: about 60,000 objects) lives as long as the process. Frozen, the
        # collector stops walking it: under load a request's objects outlive a young collection
        # now and then and reach the oldest generation, and each full collection then walked
        # the whole start-up heap, about 40 ms, once every 10,000 requests or so
        # (docs/performance.md, "Garbage collection"). Garbage left by the start-up is
        # collected first, so freezing keeps nothing that is already unreachable.
        gc.collect()
        gc.freeze()
        # A young collection every 700 net new objects (the default) came several times per
        # burst of requests at 64 connections: each burst's requests are all in flight at once,
        # ~30 objects each, so the collector walked them (and promoted them) for nothing, about
        # 2-4 µs a request. 10,000 is above what a burst keeps alive, so young collections are
        # left to the garbage that needs them (docs/performance.md, "A third pass").
        gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        now = monotonic()
        if sig == signal.SIGTERM and self.drain_seconds > 0 and self._first_exit is None:
            # Drain first: /readyz answers 503 while requests are still served, so the load
            # balancer moves traffic away before the server stops taking it (on_tick ends it).
            self._first_exit = now
            self._drain_until = now + self.drain_seconds
            begin_draining()
            _logger.info("SIGTERM: draining for %g s before shutting down", self.drain_seconds)
            return
        if self._first_exit is None:
            self._first_exit = now
        elif sig == signal.SIGINT and now - self._first_exit < self.force_after:
            return  # the same Ctrl-C, delivered again
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and monotonic() >= self._drain_until:
            # uvicorn's own exit from here: it re-raises the SIGTERM once shut down, so the exit
            # status is the one a process manager expects, with or without a drain.
            self._drain_until = None
            super().handle_exit(signal.SIGTERM, None)
        return await super().on_tick(counter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m catalyst_runtime.serve",
        description="Serve a Catalyst workflow service (uvicorn, uvloop, httptools; or granian).",
    )
    parser.add_argument("app", help="the ASGI app as module:attribute, e.g. hello_svc.main:app")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        # A string default goes through type=int too, so a bad $PORT is argparse's clear error.
        "--port",
        type=int,
        default=os.environ.get("PORT", "8000"),
        help="$PORT or 8000",
    )
    parser.add_argument("--reload", action="store_true", help="restart when a source file changes")
    parser.add_argument(
        "--reload-dir",
        action="append",
        dest="reload_dirs",
        metavar="DIR",
        help="folder to watch with --reload (repeatable; default the working folder)",
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    parser.add_argument("--app-dir", default=None, help="folder to put first on sys.path")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    parser.add_argument("--no-access-log", action="store_true", help="do not log each request")
    parser.add_argument(
        "--server",
        default="uvicorn",
        choices=["uvicorn", "granian"],
        help="uvicorn (default) or granian (the granian extra; docs/operations.md)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings()
    except ConfigError as exc:
        sys.exit(f"catalyst_runtime.serve: {exc}")
    if args.server == "granian":
        from .serve_granian import serve_granian

        serve_granian(args, settings)
        return
    options = dict(
        host=args.host,
        port=args.port,
        loop=LOOP,
        # The httptools protocol, with bounds on the request head (an import string, so that
        # worker processes can load it too).
        http="catalyst_runtime.serve:LimitedHttpToolsProtocol",
        reload=args.reload,
        reload_dirs=args.reload_dirs,
        workers=args.workers,
        log_level=args.log_level,
        log_config=log_config(args.log_level, settings.log_format),
        access_log=not args.no_access_log,
        lifespan="on",
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_timeout,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    if args.app_dir is not None:
        sys.path.insert(0, args.app_dir)  # as uvicorn.run(app_dir=...) does
    if args.workers and args.workers > 1:
        # Worker processes make their own servers inside uvicorn's supervisor.
        uvicorn.run(args.app, **options)
        return
    config = uvicorn.Config(args.app, **options)
    server = SignalBurstServer(config, drain_seconds=settings.drain_seconds)
    try:
        if config.should_reload:
            ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:  # pragma: no cover - uvicorn handles the signal itself
        pass
    if not server.started and not config.should_reload:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    main()
