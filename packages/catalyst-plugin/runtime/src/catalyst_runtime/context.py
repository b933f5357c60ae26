"""ExecutionContext: the one object a workflow run passes, by reference, through its nodes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from time import monotonic_ns, time_ns
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, TypeVar
from uuid import uuid4

from .errors import CatalystError, ConfigError, node_error
from .steps import NodeTasks

if TYPE_CHECKING:
    from .pools import ConnectionPools

__all__ = ["EnvSecrets", "EnvVars", "EventSink", "ExecutionContext", "NodeScope"]


class EnvSecrets(Mapping[str, str]):
    """Secrets read from the process environment at the moment they are used.

    Generated code never holds a secret's value; it asks for it by name. A missing secret raises
    ``ConfigError`` naming the variable, and ``repr`` never shows a value.
    """

    __slots__ = ()
    _what = "secret"

    def __getitem__(self, name: str) -> str:
        try:
            return os.environ[name]
        except KeyError:
            raise ConfigError(name, f"{self._what} is not set in the environment") from None

    def __contains__(self, name: object) -> bool:
        return name in os.environ

    def get(self, name: str, default: Any = None) -> Any:
        """The secret, or ``default`` when it is not set (no error)."""
        return os.environ.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(os.environ)

    def __len__(self) -> int:
        return len(os.environ)

    def __repr__(self) -> str:
        return "EnvSecrets(<from environment>)"


class EnvVars(EnvSecrets):
    """Plain environment variables (``env.NAME`` in expressions), read when they are used.

    The same live view of ``os.environ`` as ``EnvSecrets``: values are never copied into
    generated code or cached, so a variable changed in the process is seen by the next request.
    """

    __slots__ = ()
    _what = "environment variable"

    def __repr__(self) -> str:
        return "EnvVars(<from environment>)"


T = TypeVar("T")

_ENV_SECRETS = EnvSecrets()
_EMPTY: Mapping[str, Any] = {}


class EventSink(Protocol):
    """Where a streaming run's events go while it runs (``trigger.stream: true``).

    Generated code and node runtimes call these without awaiting: an event is queued, never
    waits for the client. A run that is not streamed has ``ctx.events is None``, and a node
    checks that once before its loop, so an unstreamed run pays nothing.
    """

    def token(self, node_id: str, text: str) -> None:
        """One piece of text from the node marked ``stream: true`` (an LLM token)."""

    def partial(self, node_id: str, output: Any, branch: str | None = None) -> None:
        """A node finished with ``output``; with ``branch``, that branch of parallel node
        ``node_id`` did."""


# The workflow the current task runs, for log lines (``logs.JsonFormatter``): set when its context
# is made, in the request's own task, so every line written afterwards while the request is
# served carries it (the access line too, which the server writes from that task), and every
# task started from it (parallel branches, map items) inherits it. Not reset, like the request
# id: the task's context dies with it.
_workflow: ContextVar[str | None] = ContextVar("catalyst_workflow", default=None)


# "0.000" to "0.999": a duration under a millisecond (a transform node's, a small request's
# total) is taken from this table instead of being formatted as a float, the largest part of
# writing the Server-Timing header (docs/performance.md, "Server-Timing").
_SUB_MS: Final = tuple(f"{i / 1000:.3f}" for i in range(1000))


def _ms(ns: int) -> str:
    """``ns`` nanoseconds in milliseconds with three decimals: exactly what
    ``f"{ns / 1_000_000:.3f}"`` writes. Below a millisecond that is ``ns`` rounded half up to
    whole microseconds, except on an exact half, where the float's binary value decides (so
    those go to the float)."""
    if 0 <= ns < 999_500 and ns % 1000 != 500:
        return _SUB_MS[(ns + 500) // 1000]
    return f"{ns / 1_000_000:.3f}"


def current_workflow() -> str | None:
    """The id of the workflow the current request runs, if it runs one."""
    return _workflow.get()


def workflow_of_route(route: Any) -> str | None:
    """The workflow a generated route runs, known before its run starts (a 422 for a bad body is
    answered before ``ExecutionContext`` exists): every generated module names it in
    ``WORKFLOW_ID``. ``None`` for any other route, or none."""
    endpoint = getattr(route, "endpoint", None)
    workflow = getattr(endpoint, "__globals__", {}).get("WORKFLOW_ID")
    return workflow if isinstance(workflow, str) else None


class ExecutionContext:
    """State of one workflow run: what its nodes share, and what the run reports.

    ``input`` (the validated request model), ``globals``, ``secrets`` and ``pools`` are shared,
    never copied. ``env`` is one process-wide ``EnvVars`` held by the class, so reading
    environment variables costs nothing when a context is made. ``timings`` maps node id to its
    duration in nanoseconds, from ``time.monotonic_ns``.

    Node outputs are not kept here: generated code binds each node's value to a local and passes
    it by name to the nodes that read it, so a 10 MB input flowing through ten nodes is one object
    and a run allocates no table of outputs. Each node's block runs inside ``with
    ctx.node("id"):``, which times it and names it in any error it raises.
    """

    __slots__ = (
        "_execution_id",
        "_notes",
        "_started_at",
        "client_watch",
        "events",
        "globals",
        "input",
        "pools",
        "secrets",
        "started_ns",
        "timings",
        "workflow_id",
    )

    # A class attribute, not a slot: the same live view for every run, never set per request.
    env: ClassVar[Mapping[str, str]] = EnvVars()
    # What ``node()`` builds: ``NodeScope``, or with metrics on a subclass that also measures
    # (``metrics.install``). A class attribute, so that off costs nothing per node.
    scope_class: ClassVar[type[NodeScope]]
    # Told every new run's input, or None (the default: one class attribute read per run). With
    # tracing on, ``tracing.install`` sets it to record the fields a workflow lets its traces
    # see (``trace: { input: [...] }``) on the request's span.
    input_observer: ClassVar[Callable[[Any], None] | None] = None
    workflow_id: str
    input: Any
    timings: dict[str, int]
    globals: Mapping[str, Any]
    secrets: Mapping[str, str]
    pools: ConnectionPools | None
    started_ns: int
    events: EventSink | None
    # The http node's watch on the client's connection, shared by every call of the run (made
    # by the first: ``http_node.ClientWatch``), or None.
    client_watch: Any
    _execution_id: str | None
    _notes: dict[str, str] | None
    _started_at: str

    def __init__(
        self,
        workflow_id: str,
        input: Any,
        *,
        pools: ConnectionPools | None = None,
        globals: Mapping[str, Any] | None = None,
        secrets: Mapping[str, str] | None = None,
        execution_id: str | None = None,
        started_ns: int | None = None,
    ) -> None:
        self.started_ns = monotonic_ns() if started_ns is None else started_ns
        self.workflow_id = workflow_id
        _workflow.set(workflow_id)
        self.input = input
        self.timings = {}
        self.globals = _EMPTY if globals is None else globals
        self.secrets = _ENV_SECRETS if secrets is None else secrets
        self.pools = pools
        self.events = None
        self.client_watch = None
        self._execution_id = execution_id
        self._notes = None
        observer = ExecutionContext.input_observer
        if observer is not None:
            observer(input)

    @property
    def execution_id(self) -> str:
        """A random id for this run, made on first use (most runs never ask for one)."""
        if self._execution_id is None:
            self._execution_id = uuid4().hex
        return self._execution_id

    @property
    def started_at(self) -> str:
        """Wall-clock start of the run, ISO 8601 in UTC (the form ``now()`` gives).

        Derived on first use from the monotonic start (no clock read per request for runs that
        never ask), then kept, so every read in one run agrees.
        """
        try:
            return self._started_at
        except AttributeError:
            wall_ns = time_ns() - (monotonic_ns() - self.started_ns)
            self._started_at = datetime.fromtimestamp(wall_ns / 1e9, UTC).isoformat()
            return self._started_at

    def node(self, node_id: str, kind: str = "") -> NodeScope:
        """The bookkeeping around one node's block: ``with ctx.node("greet", "transform"): ...``
        (``kind``, the node's type in the definition, names it in metrics and traces).

        On the way out the node's duration is recorded; an exception that is not already one of
        the runtime's own becomes ``node_error(node_id, exc)`` (a 500 ``node_failed``, or 502/504
        for a connection failure or a timeout), with the original as its cause.
        """
        return self.scope_class(self, node_id, kind)

    def partial(self, node_id: str, output: T) -> T:
        """``output``, after telling a streamed run's client that ``node_id`` finished with it.

        A streaming workflow's generated code wraps each of its own nodes' values in this
        (``greet = ctx.partial("greet", {...})``), so the event goes out the moment the value
        exists; an unstreamed run (``events`` is ``None``) only gets the value back.
        """
        if self.events is not None:
            self.events.partial(node_id, output)
        return output

    def tasks(self) -> NodeTasks:
        """The task group of this run's async nodes: ``async with ctx.tasks() as tasks:``."""
        return NodeTasks()

    def output(self) -> _OutputScope:
        """Like ``node`` for the response mapping: failures name the pseudo-node ``output``
        (``loc: ["nodes", "output"]``), and nothing is timed (``total`` covers it)."""
        return _OUTPUT_SCOPE

    def record_timing(self, node_id: str, started_ns: int) -> None:
        """Record that ``node_id`` ran from ``started_ns`` (a ``monotonic_ns()`` value) to now."""
        self.timings[node_id] = monotonic_ns() - started_ns

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the run started."""
        return (monotonic_ns() - self.started_ns) / 1_000_000

    def timings_ms(self) -> dict[str, float]:
        """Per-node durations and ``total`` in milliseconds, rounded to microseconds."""
        result = {node: round(ns / 1_000_000, 3) for node, ns in self.timings.items()}
        result["total"] = round(self.elapsed_ms, 3)
        return result

    def note(self, node_id: str, text: str) -> None:
        """A description for the node's ``Server-Timing`` entry (``desc="12 items"``); the text
        is the runtime's own (quotes and backslashes are not escaped)."""
        if self._notes is None:
            self._notes = {}
        self._notes[node_id] = text

    def server_timing(self) -> str:
        """The ``Server-Timing`` header value: ``greet;dur=0.012, total;dur=0.310`` (ms), and
        ``;desc="..."`` after a node that has a note (a map's item count)."""
        notes = self._notes
        if notes is None:  # most runs: no node left a note
            # ``_ms`` inlined: a call per node was a quarter of this header's cost.
            sub_ms = _SUB_MS
            parts = [
                f"{node};dur={sub_ms[(ns + 500) // 1000]}"
                if 0 <= ns < 999_500 and ns % 1000 != 500
                else f"{node};dur={ns / 1_000_000:.3f}"
                for node, ns in self.timings.items()
            ]
        else:
            parts = [
                f'{node};dur={_ms(ns)};desc="{notes[node]}"'
                if node in notes
                else f"{node};dur={_ms(ns)}"
                for node, ns in self.timings.items()
            ]
        parts.append(f"total;dur={_ms(monotonic_ns() - self.started_ns)}")
        return ", ".join(parts)

    def clone(self) -> ExecutionContext:
        """A context for one part of the run: a ``map`` node's item (``run_map`` sums the
        items' timings per node), or hand-written concurrent code.

        The clone gets its own empty ``timings``; everything else, including the execution id
        and start time, is shared. ``merge`` brings a finished clone's timings back.
        """
        branch = ExecutionContext.__new__(ExecutionContext)
        branch.workflow_id = self.workflow_id
        branch.input = self.input
        branch.timings = {}
        branch.globals = self.globals
        branch.secrets = self.secrets
        branch.pools = self.pools
        branch.events = self.events
        branch.client_watch = self.client_watch
        branch.started_ns = self.started_ns
        branch._notes = None
        # Branches belong to the same run: make the id now so parent and branches agree.
        branch._execution_id = self._execution_id = self.execution_id
        branch._started_at = self._started_at = self.started_at
        return branch

    def merge(self, branch: ExecutionContext) -> None:
        """Take a finished branch's timings (and their notes: a cached node's "cache hit") into
        this context."""
        self.timings.update(branch.timings)
        if branch._notes:
            for node_id, text in branch._notes.items():
                self.note(node_id, text)

    def __repr__(self) -> str:
        return (
            f"ExecutionContext(workflow_id={self.workflow_id!r}, "
            f"nodes={list(self.timings)!r}, elapsed_ms={self.elapsed_ms:.3f})"
        )


class NodeScope:
    """``with ctx.node("id"):``: times one node and maps what it raises to an error naming it.

    Entered once per node per request, so it is kept as cheap as Python allows: a plain
    ``__slots__`` class whose start time lives on the scope itself, one dict write on the way
    out. Measured against the alternatives (``tools/bench/run_cost.py`` and docs/performance.md):
    a tuple subclass parking the start in ``ctx.timings`` costs more, and a generator-based
    ``contextlib.contextmanager`` several times as much.
    """

    __slots__ = ("_ctx", "_kind", "_node_id", "_started")

    def __init__(self, ctx: ExecutionContext, node_id: str, kind: str = "") -> None:
        self._ctx = ctx
        self._node_id = node_id
        self._kind = kind

    def __enter__(self) -> None:
        self._started = monotonic_ns()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None:
            self._ctx.timings[self._node_id] = monotonic_ns() - self._started
            return
        # The runtime's own errors already name their node or say what is misconfigured;
        # cancellation and other BaseExceptions must pass through untouched.
        if isinstance(exc, CatalystError) or not isinstance(exc, Exception):
            return
        raise node_error(self._node_id, exc) from exc


class _OutputScope:
    """``with ctx.output():``: failures in the response mapping name the pseudo-node
    ``output``; nothing is timed (``total`` covers it). Stateless, so one instance serves all."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or isinstance(exc, CatalystError) or not isinstance(exc, Exception):
            return
        raise node_error("output", exc) from exc


_OUTPUT_SCOPE = _OutputScope()
ExecutionContext.scope_class = NodeScope
