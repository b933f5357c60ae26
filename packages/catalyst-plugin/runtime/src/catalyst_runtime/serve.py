"""Serve an app under uvicorn with uvloop as the event loop and httptools as the HTTP parser.

    python -m catalyst_runtime.serve hello_svc.main:app --host 127.0.0.1 --port 8000 [--reload]

uvicorn's ``loop="uvloop"`` makes its loop factory ``uvloop.new_event_loop`` (no
``uvloop.install()``, which current uvloop deprecates) and ``http="httptools"`` picks its
httptools protocol; both are named explicitly so a missing wheel fails loudly at start-up
instead of silently falling back to asyncio and h11.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from time import monotonic
from types import FrameType

import uvicorn
from uvicorn.supervisors import ChangeReload

__all__ = ["SignalBurstServer", "build_parser", "main"]

HTTP = "httptools"
LOOP = "uvloop"


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

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._first_exit: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        now = monotonic()
        if self._first_exit is None:
            self._first_exit = now
        elif sig == signal.SIGINT and now - self._first_exit < self.force_after:
            return  # the same Ctrl-C, delivered again
        super().handle_exit(sig, frame)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m catalyst_runtime.serve",
        description="Serve a Catalyst workflow service with uvicorn, uvloop and httptools.",
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
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    options = dict(
        host=args.host,
        port=args.port,
        loop=LOOP,
        http=HTTP,
        reload=args.reload,
        reload_dirs=args.reload_dirs,
        workers=args.workers,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        lifespan="on",
    )
    if args.app_dir is not None:
        sys.path.insert(0, args.app_dir)  # as uvicorn.run(app_dir=...) does
    if args.workers and args.workers > 1:
        # Worker processes make their own servers inside uvicorn's supervisor.
        uvicorn.run(args.app, **options)
        return
    config = uvicorn.Config(args.app, **options)
    server = SignalBurstServer(config)
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
