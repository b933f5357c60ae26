"""The FastAPI factory every service's ``main.py`` calls."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from http import HTTPStatus
from types import MappingProxyType
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .bodies import LIMITS_ATTRIBUTE, RequestLimits, dumps
from .compiled_routes import CompiledRoutes, route_table
from .config import Settings, load_env_file, missing_variables
from .errors import INTERNAL_ERROR_BODY, CatalystError, ConfigError, public_body
from .logs import install as install_logging
from .pools import ConnectionPools
from .probes import install as install_probes
from .request_id import RequestIdMiddleware

__all__ = ["WorkflowRouter", "create_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class _ServiceApp(FastAPI):
    """FastAPI with ``RequestIdMiddleware`` outermost: FastAPI's error middleware answers a 500
    outside any middleware added with ``add_middleware``, and that answer needs the id too.

    The compiled request path (``compiled_routes``) sits right inside the metrics and tracing
    middleware when FastAPI's own stack would add nothing to a workflow request (no user
    middleware, the runtime's exception handlers, not in debug mode), else in the router's place
    inside FastAPI's stack, so that user middleware and handlers still see every request.
    """

    # The exception handlers ``create_app`` registered: while they are the app's, the compiled
    # path may answer errors itself with them.
    runtime_handlers: dict[Any, Any] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # An HTTP request goes straight to the built stack: what FastAPI's and Starlette's
        # __call__ do first (native telemetry, which create_app turns off; root_path, which it
        # never sets) does nothing here, and costs about 0.7 µs a request.
        stack = self.middleware_stack
        if stack is not None and scope["type"] == "http" and not self.root_path:
            scope["app"] = self
            await stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> Any:
        settings = getattr(self.state, "settings", None)
        table = route_table(self.router.routes)
        metrics = getattr(self.state, "metrics", None)  # CATALYST_METRICS=on: metrics.install
        tracing_skip = getattr(self.state, "tracing_skip", None)  # CATALYST_TRACING=on
        if not table or (settings is not None and not settings.compiled_routes):
            inner = super().build_middleware_stack()
        elif (
            not self.user_middleware
            and self.exception_handlers == self.runtime_handlers
            and not self.debug
            and self.max_body_size is None
        ):
            fastapi = super().build_middleware_stack()
            if metrics is None and tracing_skip is None:
                # Outermost: it gives a compiled request its id itself (RequestIdMiddleware's
                # work without its send wrapper), FastAPI's requests go through the middleware.
                return CompiledRoutes(
                    table, RequestIdMiddleware(fastapi), self.exception_handlers, request_ids=True
                )
            inner = CompiledRoutes(table, fastapi, self.exception_handlers)
        else:
            router = self.router
            self.router = CompiledRoutes(table, router, None)  # type: ignore[assignment]
            try:
                inner = super().build_middleware_stack()
            finally:
                self.router = router
        if metrics is not None:
            from .metrics import MetricsMiddleware

            inner = MetricsMiddleware(inner, metrics, self.state.metrics_skip)
        if tracing_skip is not None:
            from .tracing import TracingMiddleware

            inner = TracingMiddleware(inner, tracing_skip)
        return RequestIdMiddleware(inner)


class WorkflowRouter(APIRouter):
    """An ``APIRouter`` that also says which pools, secrets and variables its workflows need.

    Generated code builds one (``WorkflowRouter(pools=("http",), secrets=("API_TOKEN",),
    env=("REGION",))``) so that ``create_app`` starts exactly those pools and refuses to start
    while a secret or environment variable is missing, with no change to the hand-owned
    ``main.py``. Including one workflow router in another unions all three sets.
    """

    def __init__(
        self,
        *,
        pools: Iterable[str] = (),
        secrets: Iterable[str] = (),
        env: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pools = _names("pools", pools)
        self.secrets = _names("secrets", secrets)
        self.env = _names("env", env)
        # The entries each include added to ``routes``, mapped to the router they stand for;
        # ``None`` once an include carried options (prefix, dependencies, ...) that only
        # FastAPI's own include can apply, so the routes cannot be mounted flat.
        self._includes: dict[int, WorkflowRouter] | None = {}

    def include_router(self, router: APIRouter, *args: Any, **kwargs: Any) -> None:
        if isinstance(router, WorkflowRouter):
            self.pools = self.pools | router.pools
            self.secrets = self.secrets | router.secrets
            self.env = self.env | router.env
        before = len(self.routes)
        super().include_router(router, *args, **kwargs)
        if self._includes is None:
            return
        if args or kwargs or not isinstance(router, WorkflowRouter):
            self._includes = None
        else:
            self._includes.update((id(entry), router) for entry in self.routes[before:])

    def flat_routes(self) -> list[BaseRoute] | None:
        """Every route of this router and of the workflow routers included in it, in order, or
        ``None`` when an include needs FastAPI's own handling."""
        if self._includes is None:
            return None
        flat: list[BaseRoute] = []
        seen: set[int] = set()
        for entry in self.routes:
            included = self._includes.get(id(entry))
            if included is None:
                flat.append(entry)
            elif id(included) not in seen:
                seen.add(id(included))
                inner = included.flat_routes()
                if inner is None:
                    return None
                flat.extend(inner)
        return flat


def _names(what: str, names: Iterable[str]) -> frozenset[str]:
    # A lone string is iterable too, and would become a set of its letters.
    if isinstance(names, str):
        raise TypeError(f"{what} takes a sequence of names, e.g. ({names!r},), not a string")
    return frozenset(names)


def check_secrets(names: Iterable[str]) -> None:
    """Fail start-up, naming every missing variable, rather than the first request that needs one.

    Secrets and plain environment variables are checked together, so one failed start names
    everything the operator has to set.
    """
    missing = missing_variables(names)
    if missing:
        raise ConfigError(
            ", ".join(missing),
            "required by this service's workflows but not set in the environment; "
            "export it or add it to .env",
        )


def create_app(
    router: APIRouter,
    *,
    title: str,
    version: str = "0.1.0",
    pools: Iterable[str] = (),
    settings: Settings | None = None,
    lifespan: Lifespan | None = None,
    globals: Mapping[str, Any] | None = None,
) -> FastAPI:
    """A FastAPI app serving ``router``.

    At start-up the lifespan loads ``.env`` into the environment (without overriding what is
    set), reads ``Settings`` (unless given), checks that every secret and environment variable a
    ``WorkflowRouter`` declares is set (a ``ConfigError`` naming the missing ones stops
    start-up), and builds the pools named by ``pools`` and by a ``WorkflowRouter``'s ``pools``,
    exposing them as
    ``app.state.pools`` and the settings as ``app.state.settings``; at shutdown it closes them.
    It also serves the health and readiness probes (``probes``: ``/healthz``, ``/readyz``).
    ``lifespan``, if given, runs inside, with the pools already open. Errors become JSON
    bodies written by orjson (see ``errors``), FastAPI's own 404 and 405 included.

    ``globals`` (the workflows' shared, read-only values) is copied once, here, into a read-only
    mapping exposed as ``app.state.globals`` (empty when not given), which generated handlers
    pass to every ``ExecutionContext``; it is set before start-up, so it is there even without
    the lifespan.
    """
    needs = set(pools)
    secrets: frozenset[str] = frozenset()
    secret_names: frozenset[str] = frozenset()
    if isinstance(router, WorkflowRouter):
        needs |= router.pools
        secrets = router.secrets | router.env
        secret_names = router.secrets

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Once, here: secrets kept in .env then resolve like exported ones, and Settings reads
        # the environment without parsing the file a second time.
        load_env_file()
        app.state.settings = Settings.from_env(env_file=None) if settings is None else settings
        setattr(app, LIMITS_ATTRIBUTE, RequestLimits.from_settings(app.state.settings))
        check_secrets(secrets)
        # Before any pool exists: from here on no log line carries a secret's value.
        install_logging(app.state.settings, secret_names)
        install_probes(app.router.routes, app.state.settings)
        # Again now that the settings are read (CATALYST_COMPILED_ROUTES) and every route is in.
        app.middleware_stack = app.build_middleware_stack()
        _instrument(app, app.state.settings)  # before the pools: their clients get traced
        app.state.lifecycle = "starting"
        app.state.pools = await ConnectionPools.create(app.state.settings, needs)
        try:
            if lifespan is None:
                app.state.lifecycle = "ready"
                yield
            else:
                async with lifespan(app):
                    app.state.lifecycle = "ready"
                    yield
        finally:
            app.state.lifecycle = "stopping"
            await app.state.pools.close()
            _uninstrument(app, app.state.settings)

    # FastAPI's own OpenTelemetry support is off: its server span records the raw query string
    # (a GET workflow's input), and it would trace every request of any process that sets a
    # tracer provider. CATALYST_TRACING=on makes the server span itself (tracing.py).
    telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = _ServiceApp(title=title, version=version, lifespan=app_lifespan, telemetry=telemetry)
    app.state.globals = MappingProxyType(dict(globals or {}))
    app.state.metrics = None  # CATALYST_METRICS=on: set at start-up (metrics.install)
    app.state.tracing_skip = None  # CATALYST_TRACING=on: set at start-up (tracing.install)
    setattr(app, LIMITS_ATTRIBUTE, RequestLimits())  # the settings' own, once the lifespan runs
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(CatalystError, _catalyst_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.runtime_handlers = dict(app.exception_handlers)
    flat = router.flat_routes() if isinstance(router, WorkflowRouter) else None
    if flat is None:
        app.include_router(router)
    else:
        # Mount the workflows' routes on the app itself: FastAPI walks each level of
        # include_router on every request, which costs about 5 µs a level (docs/performance.md).
        app.router.routes.extend(flat)
    return app


def _instrument(app: FastAPI, settings: Settings) -> None:
    """Metrics and traces, when turned on: each imports its library only then."""
    probes = frozenset((settings.health_path, settings.ready_path))
    if settings.metrics:
        from .metrics import install as install_metrics

        install_metrics(app, settings.metrics_path, probes)
    if settings.tracing:
        from .tracing import install as install_tracing

        install_tracing(app, probes | {settings.metrics_path})


def _uninstrument(app: FastAPI, settings: Settings) -> None:
    if settings.tracing:
        from .tracing import uninstall as uninstall_tracing

        uninstall_tracing(app)
    if settings.metrics:
        from .metrics import uninstall as uninstall_metrics

        uninstall_metrics(app)


async def _catalyst_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CatalystError)  # registered for CatalystError only
    body = public_body(exc, f"{request.method} {request.url.path}")
    return Response(
        dumps(body), exc.status_code, headers=exc.response_headers, media_type="application/json"
    )


def _http_error_type(status_code: int) -> str:
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        return "http_error"
    return re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_")


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's and FastAPI's ``HTTPException`` (an unknown path's 404, a wrong method's 405,
    a hand-written route's ``raise HTTPException(...)``) in the runtime's shape, through orjson.

    A string ``detail`` becomes ``{"detail": [{"type": "not_found", "loc": [], "msg": "Not
    Found"}]}``, the type being the status phrase in snake case; any other ``detail`` (a route
    chose its own structure) is kept as the value of ``"detail"``. The status and the
    exception's headers (``Allow`` on a 405) are kept; a status that allows no body gets none.
    """
    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    status, headers = exc.status_code, exc.headers
    if status < 200 or status in (204, 205, 304):
        return Response(status_code=status, headers=headers)
    detail: Any = exc.detail
    if isinstance(detail, str):
        detail = [{"type": _http_error_type(status), "loc": [], "msg": detail}]
    return Response(
        dumps({"detail": detail}), status, headers=headers, media_type="application/json"
    )


async def _request_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own 422 (a hand-written route with declared parameters), in the same shape as
    ``read_input``'s: ``type``, ``loc``, ``msg`` through orjson, never the offending input value.
    """
    assert isinstance(exc, RequestValidationError)  # registered for RequestValidationError only
    errors = [
        {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}
        for error in exc.errors()
    ]
    return Response(dumps({"detail": errors}), 422, media_type="application/json")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback itself; the client learns nothing about the internals.
    return Response(dumps(INTERNAL_ERROR_BODY), 500, media_type="application/json")
