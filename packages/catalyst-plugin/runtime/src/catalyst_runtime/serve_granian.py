"""Serve an app under granian instead of uvicorn.

    python -m catalyst_runtime.serve hello_svc.main:app --server granian [--workers N]

granian (the ``granian`` extra) parses HTTP in Rust and hands each request to the app on a
uvloop loop in its worker process. At 1000 open connections on one core it answers every one in
turn where uvicorn leaves some waiting past 10 s (docs/performance.md, scenario E). Its
settings come from the same ``CATALYST_*`` variables as uvicorn's (``granian_options``); what
granian does differently with them is in docs/operations.md, "Serving under granian":

- ``CATALYST_MAX_HEADER_BYTES``: granian's HTTP/1 buffer (at least 8 KiB, granian's floor); a
  bigger request head is a 431 and the connection is closed.
- ``CATALYST_HEADER_TIMEOUT`` and ``CATALYST_KEEP_ALIVE_TIMEOUT``: granian has one timer for
  both, its header read timeout, which runs from a connection's opening or its previous answer
  until the next head is complete; the shorter of the two is used, and the connection is closed
  without a 408.
- ``CATALYST_BODY_TIMEOUT``: ``read_input`` times the wait for the body's first bytes too (under
  uvicorn the protocol does that), so a head that promises a body that never comes is a 408.
- ``CATALYST_MAX_CONNECTIONS``: granian's backpressure, connections per worker; past it a new
  connection waits to be accepted instead of getting a 503.
- ``CATALYST_SHUTDOWN_TIMEOUT``: how long a worker may take to stop after SIGTERM (running
  requests finish, then the app's shutdown); past it the worker is killed.
- ``CATALYST_DRAIN_SECONDS``: on SIGTERM the workers are told to drain (``/readyz`` 503) and
  the stop follows after the drain, as under uvicorn.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import signal
import sys
import threading
from typing import Any

from .config import Settings

__all__ = [
    "ConfigErrorOnce",
    "MISSING",
    "granian_options",
    "load_app",
    "log_config",
    "serve_granian",
]

MISSING = (
    "--server granian needs the granian extra: depend on catalyst-runtime[granian] "
    "(pip install 'catalyst-runtime[granian]'), or serve with --server uvicorn"
)
"""The one line ``serve`` exits with when granian is not installed."""

# granian's HTTP/1 buffer cannot be smaller (hyper's minimum read buffer).
MIN_BUFFER = 8192
_logger = logging.getLogger("catalyst_runtime")


def granian_options(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """granian's own settings for the ``CATALYST_*`` ones (plain values: tested without granian)."""
    level = "debug" if args.log_level == "trace" else args.log_level  # granian has no trace level
    return {
        "address": args.host,
        "port": args.port,
        "workers": args.workers or 1,
        "runtime_threads": 1,
        "backpressure": settings.max_connections,
        "header_read_timeout_ms": max(
            1, round(1000 * min(settings.header_timeout, settings.keep_alive_timeout))
        ),
        "max_buffer_size": max(MIN_BUFFER, settings.max_header_bytes),
        "workers_kill_timeout": max(1, math.ceil(settings.shutdown_timeout)),
        "log_level": level,
        "log_access": not args.no_access_log,
    }


class ConfigErrorOnce(logging.Filter):
    """granian logs a failed start-up twice: the app's message (a ``ConfigError`` becomes its
    one line through ``ConfigErrorLine``), then ``ASGI lifespan startup failed`` with the
    traceback. For a ``ConfigError`` the traceback says nothing more, so it is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .errors import ConfigError

        if record.exc_info and isinstance(record.exc_info[1], ConfigError):
            record.exc_info, record.exc_text = None, None
        return True


def log_config(level: str, log_format: str) -> dict[str, Any]:
    """The runtime's logging configuration (``serve.log_config``) with granian's two loggers on
    its handlers: ``_granian`` (the server's lines, on the ``default`` handler) and
    ``granian.access`` (a line per request, on the ``access`` handler)."""
    from .serve import ConfigErrorLine
    from .serve import log_config as uvicorn_log_config

    config = uvicorn_log_config(level, log_format)
    config["filters"]["config_error_line"] = {"()": ConfigErrorLine}
    config["filters"]["config_error_once"] = {"()": ConfigErrorOnce}
    config["loggers"]["_granian"] = {
        "handlers": ["default"],
        "level": config["loggers"]["catalyst_runtime"]["level"],
        "propagate": False,
        "filters": ["config_error_line", "config_error_once"],
    }
    config["loggers"]["granian.access"] = {
        "handlers": ["access"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def load_app(target: str) -> Any:
    """Runs in each granian worker process, before the app's start-up: imports the app, makes
    ``read_input`` time the wait for a body's first bytes (granian does not), lets SIGUSR1
    start the drain (the main process sends it on SIGTERM), and freezes the start-up heap out
    of the collector's reach as ``serve`` does under uvicorn (docs/performance.md, "Garbage
    collection")."""
    from uvicorn.importer import import_from_string

    from . import bodies
    from .probes import begin_draining

    app = import_from_string(target)
    bodies.time_first_read(True)
    signal.signal(signal.SIGUSR1, lambda _sig, _frame: begin_draining())
    gc.collect()
    gc.freeze()
    return app


def serve_granian(args: argparse.Namespace, settings: Settings) -> None:
    """Serve ``args.app`` under granian until stopped; exits with one line when granian is not
    installed or an option has no granian counterpart."""
    if args.reload:
        sys.exit(
            "catalyst_runtime.serve: --reload is served by uvicorn only: "
            "drop --server granian in development"
        )
    try:
        from granian.constants import HTTPModes, Interfaces, Loops
        from granian.http import HTTP1Settings
        from granian.log import LogLevels
        from granian.server import Server
    except ImportError:
        sys.exit(f"catalyst_runtime.serve: {MISSING}")

    class DrainingServer(Server):  # type: ignore[misc, valid-type]
        """granian's server, draining first on SIGTERM when ``CATALYST_DRAIN_SECONDS`` is set:
        the workers are told (SIGUSR1: ``/readyz`` answers 503 while requests are served) and
        granian's own stop follows after the drain. A second SIGTERM stops at once."""

        drain_seconds = 0.0
        _draining = False

        def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
            if args and args[0] == signal.SIGTERM and self.drain_seconds > 0 and not self._draining:
                self._draining = True
                for worker in self.wrks:
                    os.kill(worker.inner.pid, signal.SIGUSR1)
                _logger.info("SIGTERM: draining for %g s before shutting down", self.drain_seconds)
                timer = threading.Timer(self.drain_seconds, super().signal_handler_interrupt)
                timer.daemon = True
                timer.start()
                return
            super().signal_handler_interrupt(*args, **kwargs)

    options = granian_options(settings, args)
    if args.app_dir is not None:
        sys.path.insert(0, args.app_dir)
    server = DrainingServer(
        args.app,
        address=options["address"],
        port=options["port"],
        interface=Interfaces.ASGI,
        workers=options["workers"],
        runtime_threads=options["runtime_threads"],
        loop=Loops.uvloop,
        # HTTP/1.1 only, as uvicorn serves: the limits above are HTTP/1's.
        http=HTTPModes.http1,
        backpressure=options["backpressure"],
        http1_settings=HTTP1Settings(
            header_read_timeout=options["header_read_timeout_ms"],
            keep_alive=True,
            max_buffer_size=options["max_buffer_size"],
        ),
        log_level=LogLevels(options["log_level"]),
        log_dictconfig=log_config(args.log_level, settings.log_format),
        log_access=options["log_access"],
        workers_kill_timeout=options["workers_kill_timeout"],
    )
    server.drain_seconds = settings.drain_seconds
    server.serve(target_loader=load_app)
