"""Health and readiness probes, for load balancers and Kubernetes.

``create_app`` serves them once start-up is done, after every workflow route (so they add
nothing to the matching of a workflow's request), outside the OpenAPI schema, and
``logs.install`` keeps them out of the access log:

- ``GET /healthz`` (``CATALYST_HEALTH_PATH``): 200 ``{"status": "ok"}`` while the process serves.
  It calls nothing: a database outage must not get healthy processes restarted.
- ``GET /readyz`` (``CATALYST_READY_PATH``): 200 ``{"status": "ready", "checks": {...}}`` when
  start-up is complete and every pool the workflows use that holds server connections
  (PostgreSQL, Redis, Qdrant) answers within ``CATALYST_READY_TIMEOUT``; otherwise 503 with the
  same body naming what is not ready (the pools are asked at most once a second). While
  ``serve`` drains after SIGTERM (``CATALYST_DRAIN_SECONDS``) and during shutdown it is 503
  ``{"status": "draining"}`` / ``{"status": "stopping"}``, so a load balancer stops sending
  requests before the server stops taking them.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Any, Final, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .bodies import dumps
from .config import Settings
from .errors import ConfigError

__all__ = ["Lifecycle", "begin_draining", "draining", "probe_routes"]

Lifecycle = Literal["starting", "ready", "stopping"]
"""``app.state.lifecycle``, kept by ``create_app``'s lifespan."""

_HEADERS: Final = {"cache-control": "no-store"}
_draining = False


def begin_draining() -> None:
    """From now on this process's ``/readyz`` answers 503 ``draining`` (``serve`` calls it on
    SIGTERM; the process serves on until the drain period ends)."""
    global _draining
    _draining = True


def draining() -> bool:
    return _draining


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(dumps(body), status, headers=_HEADERS, media_type="application/json")


async def _healthz(request: Request) -> Response:
    return _json(200, {"status": "ok"})


async def _readyz(request: Request) -> Response:
    state = request.app.state
    lifecycle: Lifecycle = getattr(state, "lifecycle", "starting")
    if _draining and lifecycle == "ready":
        return _json(503, {"status": "draining"})
    if lifecycle != "ready":
        return _json(503, {"status": lifecycle})
    checks = await _checks(state)
    ready = all(result == "ok" for result in checks.values())
    return _json(
        200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks}
    )


_CHECK_EVERY: Final = 1.0


async def _checks(state: Any) -> dict[str, str]:
    """The pools' answers, asked at most once a second whatever the probe rate (an
    unauthenticated flood of /readyz must not compete with requests for connections);
    concurrent probes wait for the same check."""
    cached = getattr(state, "ready_checks", None)
    now = monotonic()
    if cached is not None and now - cached[0] < _CHECK_EVERY:
        return await asyncio.shield(cached[1])
    task = asyncio.ensure_future(state.pools.check(state.settings.ready_timeout))
    state.ready_checks = (now, task)
    return await asyncio.shield(task)


class _ProbeRoute(Route):
    """A probe's route: marked, so that a second start-up replaces rather than repeats it."""


def probe_routes(settings: Settings) -> list[BaseRoute]:
    methods = ["GET", "HEAD"]
    return [
        _ProbeRoute(settings.health_path, _healthz, methods=methods, include_in_schema=False),
        _ProbeRoute(settings.ready_path, _readyz, methods=methods, include_in_schema=False),
    ]


def install(routes: list[BaseRoute], settings: Settings) -> None:
    """Put the probes at the end of ``routes`` (an app's ``router.routes``), replacing those of
    an earlier start-up; a workflow route on a probe's path is a ``ConfigError``."""
    routes[:] = [route for route in routes if not isinstance(route, _ProbeRoute)]
    taken = {getattr(route, "path", None) for route in routes}
    for variable, path in (
        ("CATALYST_HEALTH_PATH", settings.health_path),
        ("CATALYST_READY_PATH", settings.ready_path),
    ):
        if path in taken:
            raise ConfigError(
                variable, f"{path} is also a route of the service; choose another path"
            )
    routes.extend(probe_routes(settings))
