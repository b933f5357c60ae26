"""Prometheus metrics: ``GET /metrics`` when ``CATALYST_METRICS=on`` (the ``metrics`` extra).

Off (the default), nothing of this module runs: no middleware, no per-node work, and
``prometheus_client`` is never imported. On, ``create_app``'s lifespan calls ``install(app)``:

- ``catalyst_requests_seconds{route, workflow, method, status}``: a histogram of request latency
  (its ``_count`` is the request count), measured outside FastAPI, ``route`` being the route's
  path template (``/orders``), or ``unmatched`` for any path no route serves, so a scan of random
  URLs cannot grow the label set; ``workflow`` the workflow the route runs (empty for a route
  that runs none), one per route, so it adds no series. The probes and ``/metrics`` itself are
  not measured.
- ``catalyst_node_seconds{workflow, node, kind}``: a histogram of each node's duration, from the
  same ``with ctx.node(...)`` scope that feeds ``Server-Timing``; ``kind`` is the node's type
  (``http``, ``postgres``, ``transform``...), one per node, so it adds no series.
- ``catalyst_node_errors_total{workflow, node, type}``: failures by the runtime's error type
  (``upstream_error``, ``node_timeout``, ``rate_limited``, ``node_failed``...). A rate-limit
  rejection is ``type="rate_limited"``.
- ``catalyst_cache_requests_total{workflow, node, outcome}``: a cached node's calls by outcome
  (``hit``, ``miss``, ``shared``, ``error``).
- ``catalyst_pool_connections{pool, state}``: each pool's connections ``idle`` and ``in_use``
  (``postgres``, ``redis``, the ``http`` and ``llm`` clients, ``anthropic``'s and ``openai``'s), and
  ``catalyst_pool_max_connections{pool}`` its limit, read when scraped (``ConnectionPools.usage``).
- ``catalyst_pool_wait_seconds{pool}``: a histogram of how long a request waited for a connection
  of that pool (PostgreSQL's acquire, Redis's, an HTTP client's pool), timed by the hooks
  ``pools.wait_observer`` turns on.

Every label value comes from the service's own definitions (routes, workflow and node ids,
error types) or a fixed set (the standard HTTP methods, else ``_OTHER``), never from a
request. Each process has its own registry: with several worker processes, scrape each (see
docs/operations.md).
"""

from __future__ import annotations

from bisect import bisect_left
from time import monotonic_ns, perf_counter
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import cache_node, pools
from .context import ExecutionContext, NodeScope, current_workflow, workflow_of_route
from .errors import CatalystError, ConfigError, node_error
from .response_status import StatusSend, standard_method

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fastapi import FastAPI

__all__ = ["Metrics", "MetricsMiddleware", "install", "uninstall"]

# Seconds: from a cached transform (well under 1 ms) to a slow LLM call.
BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)
# Waiting for a connection: usually none at all (well under 0.1 ms), up to a pool timeout.
WAIT_BUCKETS: Final = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30)


class _Histogram:
    """Bucket counts and a sum, kept as plain numbers: an observation is a bisect and two
    additions, no lock (everything runs on the event loop's thread, the scrape included).
    prometheus_client's own Histogram takes a lock per bucket and costs several times as much
    (docs/operations.md, "Metrics")."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, int]]:
        cumulative, out = 0, list[tuple[str, int]]()
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            cumulative += count
            out.append((bound, cumulative))
        return out


def _bump(counts: dict[tuple[str, str, str], int], key: tuple[str, str, str]) -> None:
    counts[key] = counts.get(key, 0) + 1


class Metrics:
    """The service's measurements, read into the Prometheus format when scraped, on a registry
    of their own (a second start-up in one process, as in tests, gets a fresh one)."""

    def __init__(self, app: FastAPI) -> None:
        try:
            from prometheus_client import CollectorRegistry
        except ImportError:
            raise ConfigError(
                "CATALYST_METRICS",
                "needs the metrics extra: depend on catalyst-runtime[metrics] "
                "(prometheus-client), or set CATALYST_METRICS=off",
            ) from None
        self._app = app
        self.requests: dict[tuple[str, str, str, int], _Histogram] = {}
        self.nodes: dict[tuple[str, str, str], _Histogram] = {}
        self.errors: dict[tuple[str, str, str], int] = {}
        self.cache: dict[tuple[str, str, str], int] = {}
        self.waits: dict[tuple[str], _Histogram] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def observe_node(self, workflow: str, node: str, kind: str, seconds: float) -> None:
        key = (workflow, node, kind)
        histogram = self.nodes.get(key)
        if histogram is None:
            histogram = self.nodes[key] = _Histogram()
        histogram.observe(seconds)

    def observe_request(
        self, route: str, workflow: str, method: str, status: int, seconds: float
    ) -> None:
        key = (route, workflow, method, status)
        histogram = self.requests.get(key)
        if histogram is None:
            histogram = self.requests[key] = _Histogram()
        histogram.observe(seconds)

    def observe_wait(self, pool: str, seconds: float) -> None:
        histogram = self.waits.get((pool,))
        if histogram is None:
            histogram = self.waits[(pool,)] = _Histogram(WAIT_BUCKETS)
        histogram.observe(seconds)

    def count_cache(self, workflow: str, node: str, outcome: str) -> None:
        _bump(self.cache, (workflow, node, outcome.removeprefix("cache ")))

    def count_error(self, workflow: str, node: str, error_type: str) -> None:
        _bump(self.errors, (workflow, node, error_type))

    def collect(self) -> Iterator[Any]:
        """The Prometheus families (``prometheus_client`` calls this on each scrape)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        histograms = (
            ("catalyst_requests_seconds",
             "Request latency by route template, workflow, method and status.",
             ["route", "workflow", "method", "status"], self.requests),
            ("catalyst_node_seconds", "Node duration by workflow, node and kind.",
             ["workflow", "node", "kind"], self.nodes),
            ("catalyst_pool_wait_seconds", "Time a request waited for a connection, by pool.",
             ["pool"], self.waits),
        )  # fmt: skip
        for name, text, labels, table in histograms:
            family = HistogramMetricFamily(name, text, labels=labels)
            for key, histogram in sorted(table.items()):
                family.add_metric([str(part) for part in key], histogram.buckets(), histogram.total)
            yield family
        counters = (
            ("catalyst_node_errors", "Node failures by workflow, node and error type.",
             ["workflow", "node", "type"], self.errors),
            ("catalyst_cache_requests",
             "Cached nodes' calls by outcome: hit, miss, shared (waited for another call), error.",
             ["workflow", "node", "outcome"], self.cache),
        )  # fmt: skip
        for name, text, labels, counts in counters:
            counter = CounterMetricFamily(name, text, labels=labels)
            for key, count in sorted(counts.items()):
                counter.add_metric(list(key), count)
            yield counter
        connections = GaugeMetricFamily(
            "catalyst_pool_connections", "Pool connections by state.", labels=["pool", "state"]
        )
        limits = GaugeMetricFamily(
            "catalyst_pool_max_connections", "Most connections a pool opens.", labels=["pool"]
        )
        open_pools = getattr(self._app.state, "pools", None)
        for pool, in_use, idle, limit in [] if open_pools is None else open_pools.usage():
            connections.add_metric([pool, "idle"], idle)
            connections.add_metric([pool, "in_use"], in_use)
            limits.add_metric([pool], limit)
        yield connections
        yield limits


class MetricsMiddleware:
    """Times every HTTP request outside FastAPI and counts it by route template and status."""

    __slots__ = ("app", "metrics", "skip")

    def __init__(self, app: Any, metrics: Metrics, skip: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.skip = skip

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        sent = StatusSend(send)
        try:
            await self.app(scope, receive, sent)
        finally:
            matched = scope.get("route")
            route = getattr(matched, "path", None) or "unmatched"
            if route not in self.skip:
                # The run's own (ExecutionContext, in this task), else the generated route's
                # module's (a 422 before the run started); "" for a route with no workflow.
                workflow = current_workflow() or workflow_of_route(matched) or ""
                self.metrics.observe_request(
                    route,
                    workflow,
                    standard_method(scope["method"]),
                    sent.status,
                    perf_counter() - started,
                )


class MeasuredNodeScope(NodeScope):
    """``NodeScope`` that also feeds the node histogram and the error counter."""

    __slots__ = ()
    metrics: Metrics | None = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        metrics = MeasuredNodeScope.metrics
        ctx = self._ctx
        if exc is None:
            # NodeScope's own bookkeeping, inlined: this runs for every node of every request.
            elapsed = monotonic_ns() - self._started
            ctx.timings[self._node_id] = elapsed
            if metrics is not None:
                metrics.observe_node(ctx.workflow_id, self._node_id, self._kind, elapsed / 1e9)
            return
        if metrics is not None and isinstance(exc, Exception):
            error = exc if isinstance(exc, CatalystError) else node_error(self._node_id, exc)
            # Counted once, by the node it names: a failure inside a parallel branch or a map
            # item passes through the container's scope too.
            if getattr(error, "node_id", self._node_id) == self._node_id:
                metrics.count_error(ctx.workflow_id, self._node_id, error.error_type)
        super().__exit__(exc_type, exc, tb)


def install(app: FastAPI, path: str, skip: frozenset[str]) -> Metrics:
    """Start measuring ``app``: the ``/metrics`` route, the request middleware (the app's
    middleware stack is rebuilt with it) and the node scope."""
    if any(
        getattr(r, "path", None) == path
        for r in app.router.routes
        if not isinstance(r, _MetricsRoute)
    ):
        raise ConfigError(
            "CATALYST_METRICS_PATH", f"{path} is also a route of the service; choose another path"
        )
    metrics = Metrics(app)  # a ConfigError saying what to install when the extra is missing
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    async def scrape(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, _MetricsRoute)]
    app.router.routes.append(_MetricsRoute(path, scrape, methods=["GET"], include_in_schema=False))
    app.state.metrics = metrics
    app.state.metrics_skip = skip | {path}
    app.middleware_stack = app.build_middleware_stack()
    MeasuredNodeScope.metrics = metrics
    ExecutionContext.scope_class = MeasuredNodeScope
    cache_node.observer = metrics.count_cache
    pools.wait_observer = metrics.observe_wait  # before the lifespan builds the pools
    return metrics


def uninstall(app: FastAPI) -> None:
    """Back to no measuring (the lifespan's shutdown): the next start-up decides again."""
    if getattr(app.state, "metrics", None) is None:
        return
    app.state.metrics = None
    cache_node.observer = None
    pools.wait_observer = None
    MeasuredNodeScope.metrics = None
    ExecutionContext.scope_class = NodeScope
    app.middleware_stack = app.build_middleware_stack()


class _MetricsRoute(Route):
    """``/metrics``: marked, so that a second start-up replaces rather than repeats it."""
