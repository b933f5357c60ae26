"""OpenTelemetry traces: ``CATALYST_TRACING=on`` (the ``tracing`` extra), exported over OTLP/HTTP.

Off (the default), nothing of this module runs and ``opentelemetry`` is never imported. On,
``create_app``'s lifespan calls ``install(app)`` before the pools are built:

- a tracer provider named after the service (``OTEL_SERVICE_NAME``, else the app's title)
  exporting in batches to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``http://localhost:4318`` by default;
  the exporter reads the standard ``OTEL_EXPORTER_OTLP_*`` variables) — unless the process has
  already set an SDK tracer provider of its own, which is then used as it is;
- a server span per request (``TracingMiddleware``, outside FastAPI), continuing the caller's
  W3C ``traceparent``, named ``GET /orders`` after the route template, with the method, route
  and status code and nothing of the URL (a GET workflow's input is its query string); a 5xx
  marks it as an error; none for the probes or ``/metrics``. (FastAPI's own OpenTelemetry
  support, which records the query string, is turned off by ``create_app``.)
- a child span per node (``TracedNodeScope``: the ``with ctx.node(...)`` scope), named after the
  node, with ``catalyst.workflow``, ``catalyst.node`` and ``catalyst.node.kind`` (its type); a
  failure sets the error status and ``error.type`` (the runtime's error type), never the
  exception's message;
- client spans from the OpenTelemetry instrumentations of aiohttp (``http`` nodes, which also
  forward ``traceparent`` to the upstream), httpx (the ``llm`` pool), asyncpg and redis.

What never becomes an attribute: input values and secrets. The server span has the route
template, not the path; an outgoing HTTP call's URL is cut to its origin (its path and query may
carry input or a key); the Redis instrumentation writes commands as ``SET ? ?``; asyncpg's writes
the SQL text, whose values are always bound parameters, never the parameters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from .context import ExecutionContext
from .errors import CatalystError, ConfigError, node_error
from .metrics import MeasuredNodeScope
from .response_status import StatusSend, standard_method

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["TracedNodeScope", "TracingMiddleware", "install", "uninstall"]


class _State:
    """What ``install`` set up; ``None`` everywhere while tracing is off."""

    tracer: Any = None
    otel: Any = None  # the ``opentelemetry`` package, imported once at install
    provider: Any = None  # ours, to flush and shut down; None when the process brought its own
    instrumentors: list[Any] = []  # noqa: RUF012 - replaced, never mutated in place


def current_trace_id() -> str | None:
    """The trace id of the span being run, for log lines (``logs.JsonFormatter``)."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class TracingMiddleware:
    """A server span around every HTTP request, continuing the caller's ``traceparent``."""

    __slots__ = ("app", "skip")

    def __init__(self, app: Any, skip: frozenset[str]) -> None:
        self.app = app
        self.skip = skip

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            await self.app(scope, receive, send)
            return
        otel = _State.otel
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent = otel.propagate.extract(carrier)
        method = standard_method(scope["method"])
        span = _State.tracer.start_span(
            method,
            context=parent,
            kind=otel.trace.SpanKind.SERVER,
            attributes={"http.request.method": method},
        )
        token = otel.context.attach(otel.trace.set_span_in_context(span, parent))
        sent = StatusSend(send)
        try:
            await self.app(scope, receive, sent)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", sent.status)
            if sent.status >= 500:
                span.set_status(otel.trace.StatusCode.ERROR)
            span.end()
            otel.context.detach(token)


class TracedNodeScope(MeasuredNodeScope):
    """The node scope with a span: current while the node runs, so the clients' spans (an HTTP
    call, a query) are its children. Also measures when metrics are on. Under a request that is
    not sampled (``OTEL_TRACES_SAMPLER``) it makes no span at all."""

    __slots__ = ("_span", "_token")

    def __enter__(self) -> None:
        otel = _State.otel
        self._span = None
        if otel.trace.get_current_span().is_recording():
            ctx = self._ctx
            span = self._span = _State.tracer.start_span(
                self._node_id,
                attributes={
                    "catalyst.workflow": ctx.workflow_id,
                    "catalyst.node": self._node_id,
                    "catalyst.node.kind": self._kind,
                },
            )
            self._token = otel.context.attach(otel.trace.set_span_in_context(span))
        super().__enter__()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        span = self._span
        if span is None:
            super().__exit__(exc_type, exc, tb)
            return
        try:
            if isinstance(exc, Exception):
                error = exc if isinstance(exc, CatalystError) else node_error(self._node_id, exc)
                span.set_attribute("error.type", error.error_type)
                span.set_status(_State.otel.trace.StatusCode.ERROR, error.error_type)
            super().__exit__(exc_type, exc, tb)
        finally:
            span.end()
            _State.otel.context.detach(self._token)


def _origin(url: Any) -> str:
    """aiohttp instrumentation's ``url_filter``: the URL's origin only, as for httpx below."""
    try:
        return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
    except Exception:
        return ""


def _origin_only(span: Any, request: Any) -> None:
    """httpx instrumentation hook: the URL's path and query may hold input or a key, so the
    span keeps only the origin. (The URL is an ``httpx.URL``, or a tuple of bytes at the
    transport level.) Never raises: a failing hook would fail the call."""
    url = request.url
    try:
        if isinstance(url, tuple):
            scheme, host, port = (
                part.decode() if isinstance(part, bytes) else part for part in url[:3]
            )
        else:
            scheme, host, port = url.scheme, url.host, url.port
        origin = f"{scheme}://{host}" + (f":{port}" if port else "")
    except Exception:
        origin = ""
    for attribute in ("url.full", "http.url"):
        span.set_attribute(attribute, origin)


async def _origin_only_async(span: Any, request: Any) -> None:
    _origin_only(span, request)


# A traced input text longer than this is cut: an attribute is exported with every span batch.
MAX_INPUT_ATTRIBUTE_CHARS: Final = 256


def _record_input(input: Any) -> None:
    """The input fields a workflow lets its traces record (``trace: { input: [...] }``, emitted
    as the input class's ``__catalyst_trace__``: JSON key to attribute) as attributes of the
    request's server span, ``catalyst.input.<key>``. No other input value becomes an attribute.
    """
    fields = getattr(type(input), "__catalyst_trace__", None)
    if not fields:
        return
    span = _State.otel.trace.get_current_span()
    if not span.is_recording():
        return
    for key, attr in fields.items():
        value = getattr(input, attr, None)
        if isinstance(value, str):
            span.set_attribute(f"catalyst.input.{key}", value[:MAX_INPUT_ATTRIBUTE_CHARS])
        elif isinstance(value, bool | int | float):
            span.set_attribute(f"catalyst.input.{key}", value)


def install(app: FastAPI, skip: frozenset[str]) -> None:
    """Start tracing ``app``: provider, instrumentations and the node scope. Before the pools are
    built, so that their clients are instrumented. ``skip``: paths FastAPI does not trace."""
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise ConfigError(
            "CATALYST_TRACING",
            "needs the tracing extra: depend on catalyst-runtime[tracing] "
            "(opentelemetry-sdk and its instrumentations), or set CATALYST_TRACING=off",
        ) from None
    import os

    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        _State.provider = None  # the process's own: its owner flushes it
    else:
        # A fresh provider at every start-up: the previous one (a second app in the same
        # process, as in tests) was shut down with its exporter and would drop every span.
        name = os.environ.get("OTEL_SERVICE_NAME") or app.title
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _State.provider = provider
        # OpenTelemetry lets the process's global provider be set once: it is set to one that
        # hands out the current start-up's tracers, so code of the service's own that calls
        # ``trace.get_tracer`` follows each start-up too.
        if not isinstance(trace.get_tracer_provider(), _service_provider_class()):
            trace.set_tracer_provider(_service_provider_class()())
    _State.tracer = provider.get_tracer("catalyst_runtime")
    import opentelemetry.context
    import opentelemetry.propagate
    import opentelemetry.trace

    _State.otel = opentelemetry
    instrumentors: list[Any] = []
    hooks: dict[str, Any] = {"request_hook": _origin_only, "async_request_hook": _origin_only_async}
    clients = _client_provider_class()(provider)
    for instrumentor, options in (
        (AioHttpClientInstrumentor(), {"url_filter": _origin}),
        (HTTPXClientInstrumentor(), hooks),
        (AsyncPGInstrumentor(), {}),  # type: ignore[no-untyped-call]
        (RedisInstrumentor(), {}),
    ):  # fmt: skip
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=clients, **options)
            instrumentors.append(instrumentor)
    _State.instrumentors = instrumentors
    app.state.tracing_skip = skip
    app.middleware_stack = app.build_middleware_stack()
    ExecutionContext.scope_class = TracedNodeScope
    ExecutionContext.input_observer = _record_input

    from . import logs

    logs.trace_id_source = current_trace_id


def uninstall(app: FastAPI) -> None:
    """The lifespan's shutdown: spans flushed, instrumentations and the node scope undone."""
    from . import logs

    logs.trace_id_source = None
    ExecutionContext.input_observer = None
    ExecutionContext.scope_class = MeasuredNodeScope if MeasuredNodeScope.metrics else _plain()
    for instrumentor in _State.instrumentors:
        instrumentor.uninstrument()
    _State.instrumentors = []
    if _State.provider is not None:
        _State.provider.shutdown()  # exports what is still queued
    _State.provider = None
    _State.tracer = None
    app.state.tracing_skip = None
    app.middleware_stack = app.build_middleware_stack()


@cache
def _service_provider_class() -> type:
    """The process's global tracer provider while the runtime owns it (made here: the module
    imports no OpenTelemetry while tracing is off)."""
    from opentelemetry import trace

    class ServiceTracer(trace.Tracer):
        """A tracer of the running start-up's provider; a no-op one between start-ups."""

        def __init__(self, *args: Any) -> None:
            self._args = args
            self._tracer: Any = None
            self._of: Any = None

        def _current(self) -> Any:
            provider = _State.provider
            if provider is None:
                return trace.NoOpTracer()
            if self._of is not provider:
                self._tracer, self._of = provider.get_tracer(*self._args), provider
            return self._tracer

        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            return self._current().start_span(*args, **kwargs)

        def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
            return self._current().start_as_current_span(*args, **kwargs)

    class ServiceTracerProvider(trace.TracerProvider):
        def get_tracer(
            self,
            instrumenting_module_name: str,
            instrumenting_library_version: str | None = None,
            schema_url: str | None = None,
            attributes: Any = None,
        ) -> Any:
            return ServiceTracer(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )

    return ServiceTracerProvider


def _type_only(span: Any) -> Any:
    """``span`` made to keep a failure's type only: its ``record_exception`` adds an event with
    the exception's type, its ``set_status`` drops the description. The client instrumentations
    record the exception itself (message and traceback) and set ``"<type>: <message>"`` as the
    status, and drivers' messages quote what they were sent: aiohttp's the whole URL with its
    query (``url='https://host/path?key=...'``), asyncpg's a query argument it could not encode.
    """
    if not span.is_recording():
        return span
    from opentelemetry.trace import Status

    set_status = span.set_status

    def record_exception(
        exception: BaseException,
        attributes: Any = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        span.add_event("exception", {"exception.type": type(exception).__qualname__}, timestamp)

    def status_without_description(status: Any, description: str | None = None) -> None:
        set_status(Status(status.status_code) if isinstance(status, Status) else status)

    # A span class with slots (none of the SDK's) keeps its own.
    with contextlib.suppress(AttributeError):
        span.record_exception = record_exception
        span.set_status = status_without_description
    return span


@cache
def _client_provider_class() -> type:
    """The provider the client instrumentations (aiohttp, httpx, asyncpg, redis) are given: the
    start-up's, with every span it makes passed through ``_type_only``. The runtime's own spans
    (server, nodes) are made on the start-up's provider directly and say what they say."""
    from opentelemetry import trace

    class ClientTracer(trace.Tracer):
        def __init__(self, tracer: Any) -> None:
            self._tracer = tracer

        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            return _type_only(self._tracer.start_span(*args, **kwargs))

        @contextlib.contextmanager
        def start_as_current_span(  # type: ignore[override]
            self,
            name: str,
            context: Any = None,
            kind: Any = trace.SpanKind.INTERNAL,
            attributes: Any = None,
            links: Any = None,
            start_time: int | None = None,
            record_exception: bool = True,
            set_status_on_exception: bool = True,
            end_on_exit: bool = True,
        ) -> Iterator[Any]:
            span = self.start_span(name, context, kind, attributes, links, start_time)
            with trace.use_span(
                span,
                end_on_exit=end_on_exit,
                record_exception=record_exception,
                set_status_on_exception=set_status_on_exception,
            ) as current:
                yield current

    class ClientTracerProvider(trace.TracerProvider):
        def __init__(self, provider: Any) -> None:
            self._provider = provider

        def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
            return ClientTracer(self._provider.get_tracer(*args, **kwargs))

    return ClientTracerProvider


def _plain() -> Any:
    from .context import NodeScope

    return NodeScope
