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
from collections.abc import Sequence

import uvicorn

__all__ = ["build_parser", "main"]

HTTP = "httptools"
LOOP = "uvloop"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m catalyst_runtime.serve",
        description="Serve a Catalyst workflow service with uvicorn, uvloop and httptools.",
    )
    parser.add_argument("app", help="the ASGI app as module:attribute, e.g. hello_svc.main:app")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="$PORT or 8000"
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
    uvicorn.run(
        args.app,
        host=args.host,
        port=args.port,
        loop=LOOP,
        http=HTTP,
        reload=args.reload,
        reload_dirs=args.reload_dirs,
        workers=args.workers,
        app_dir=args.app_dir,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        lifespan="on",
    )


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    main()
