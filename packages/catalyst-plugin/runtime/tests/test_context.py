from __future__ import annotations

import contextvars
import importlib.util
import time
import tracemalloc
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from catalyst_runtime import ConfigError, ExecutionContext
from catalyst_runtime.context import EnvSecrets, EnvVars, current_workflow, workflow_of_route


class Clock:
    """The context module's ``monotonic_ns``, standing still until a test moves it: durations
    then come out exact, and the header can be compared as the client reads it."""

    def __init__(self) -> None:
        self.now = 5_000_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("catalyst_runtime.context.monotonic_ns", fake)
    return fake


class Events:
    """An ``EventSink`` that keeps what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, Any]] = []

    def token(self, node_id: str, text: str) -> None:
        self.told.append((node_id, text))

    def partial(self, node_id: str, output: Any, branch: str | None = None) -> None:
        self.told.append((node_id, output))


def test_node_values_live_in_locals_not_in_the_context() -> None:
    ctx = ExecutionContext("wf", {"q": "x"})
    value = {"rows": [1, 2, 3]}
    with ctx.node("a"):
        a = value
    with ctx.node("b"):
        b = {"first": a["rows"][0]}
    assert a is value
    assert b == {"first": 1}
    # The context keeps what the run reports (timings), not what its nodes produced.
    assert list(ctx.timings) == ["a", "b"]
    for removed in ("outputs", "set_output", "get_output"):
        assert not hasattr(ctx, removed)
    assert ctx.workflow_id == "wf"
    assert ctx.input == {"q": "x"}


def test_execution_id_is_lazy_and_stable() -> None:
    ctx = ExecutionContext("wf", None)
    assert ctx._execution_id is None
    first = ctx.execution_id
    assert len(first) == 32
    assert ctx.execution_id == first
    assert ExecutionContext("wf", None, execution_id="given").execution_id == "given"


def test_timings_and_server_timing() -> None:
    ctx = ExecutionContext("wf", None, started_ns=time.monotonic_ns() - 2_000_000)
    started = time.monotonic_ns() - 12_000
    ctx.record_timing("greet", started)
    assert ctx.timings["greet"] >= 12_000
    header = ctx.server_timing()
    node, total = header.split(", ")
    # At least the 12 µs the node ran; no upper bound, which a loaded machine could overrun.
    assert node.startswith("greet;dur=")
    assert float(node.removeprefix("greet;dur=")) >= 0.012
    assert total.startswith("total;dur=")
    assert float(total.removeprefix("total;dur=")) >= 2.0
    assert ctx.elapsed_ms >= 2.0
    summary = ctx.timings_ms()
    assert set(summary) == {"greet", "total"}
    assert summary["total"] >= 2.0


def test_server_timing_writes_durations_as_the_float_would() -> None:
    # Durations under a millisecond come from a table: every one must read exactly as
    # f"{ns / 1e6:.3f}" writes it, the exact halves (float rounding) and the edges included.
    checked = [*range(0, 1_000_000, 7), *range(500, 1_000_000, 1000), 999_499, 999_500, 999_999]
    checked += [1_000_000, 1_234_567, 12_345_678_901, 2**40]
    ctx = ExecutionContext("wf", None)
    for ns in checked:
        ctx.timings["n"] = ns
        node = ctx.server_timing().split(", ")[0]
        assert node == f"n;dur={ns / 1_000_000:.3f}", ns
    ctx.note("n", "3 items")
    ctx.timings["n"] = 4_123
    assert ctx.server_timing().split(", ")[0] == 'n;dur=0.004;desc="3 items"'


def test_server_timing_without_nodes() -> None:
    assert ExecutionContext("wf", None).server_timing().startswith("total;dur=")


def test_clone_gives_a_branch_only_its_own_timings() -> None:
    shared_input = {"big": "x" * 1000}
    parent = ExecutionContext("wf", shared_input, globals={"g": 1})
    with parent.node("a"):
        pass
    branch = parent.clone()
    assert branch.input is parent.input
    assert branch.globals is parent.globals
    assert branch.secrets is parent.secrets
    assert branch.pools is parent.pools
    assert branch.started_ns == parent.started_ns
    assert branch.execution_id == parent.execution_id
    assert branch.timings == {}
    assert branch.timings is not parent.timings
    with branch.node("b"):
        pass
    sibling = parent.clone()
    assert set(parent.timings) == {"a"}  # a branch's timings stay its own until merged
    assert sibling.timings == {}
    parent.merge(branch)
    assert set(parent.timings) == {"a", "b"}
    assert parent.timings["b"] == branch.timings["b"]
    parent.merge(sibling)  # a branch that timed nothing adds nothing
    assert set(parent.timings) == {"a", "b"}


def _passes_on(ctx: ExecutionContext, node_id: str, data: Any) -> dict[str, Any]:
    """One node as generated code writes it: its value bound to a local, returned by name."""
    with ctx.node(node_id):
        produced = {"data": data}
    return produced


def test_ten_megabyte_input_through_ten_nodes_is_never_copied() -> None:
    payload = {"blob": "x" * (10 * 1024 * 1024), "items": list(range(1000))}
    node_ids = [f"n{node}" for node in range(10)]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        ctx = ExecutionContext("wf", payload)
        previous: Any = ctx.input
        for node_id in node_ids[:9]:
            # Each node reads what the one before produced, passed by name, as generated code does.
            previous = _passes_on(ctx, node_id, previous)["data"]
        branch = ctx.clone()  # the last node runs as a parallel branch
        previous = _passes_on(branch, node_ids[9], previous)["data"]
        ctx.merge(branch)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert previous is payload
    assert list(ctx.timings) == node_ids
    # Ten copies would be 100 MB; the whole run allocates a few kilobytes.
    assert peak - before < 64 * 1024
    assert after - before < 64 * 1024


def _load_runtime_micro() -> Any:
    """The micro-benchmark script, whose ``--memory`` mode prints what this test asserts on."""
    path = Path(__file__).resolve().parents[4] / "tools" / "bench" / "runtime_micro.py"
    spec = importlib.util.spec_from_file_location("runtime_micro", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slots_use_less_memory_than_a_plain_class() -> None:
    ctx = ExecutionContext("wf", None)
    assert not hasattr(ctx, "__dict__")
    with pytest.raises(AttributeError):
        ctx.unknown = 1  # type: ignore[attr-defined]
    bench = _load_runtime_micro()
    assert not hasattr(bench.PlainContext, "__slots__")
    # The same attributes, less the one filled only when read (started_at).
    lazy = {"_started_at"}
    assert vars(bench.PlainContext("wf", None)).keys() == set(ExecutionContext.__slots__) - lazy
    # Python 3.11.7: 200, 240 and 304 bytes. 3.11+ keeps a plain instance's attributes inline
    # until its __dict__ is asked for, so the saving is about 17 % until then and 34 % after.
    # Printed by: python tools/bench/runtime_micro.py --memory (see docs/runtime.md).
    figures = bench.memory_figures()
    slotted, plain, plain_dict = figures
    assert slotted < plain * 0.95, figures
    assert slotted < plain_dict * 0.8, figures


def test_env_secrets_read_at_use(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = EnvSecrets()
    monkeypatch.setenv("CATALYST_TEST_SECRET", "s3cret")
    assert ExecutionContext("wf", None).secrets["CATALYST_TEST_SECRET"] == "s3cret"
    assert "CATALYST_TEST_SECRET" in list(secrets)
    assert len(secrets) == len(list(secrets))
    assert "s3cret" not in repr(secrets)
    assert "CATALYST_TEST_SECRET" in secrets
    assert secrets.get("CATALYST_TEST_SECRET") == "s3cret"
    monkeypatch.delenv("CATALYST_TEST_SECRET")
    with pytest.raises(ConfigError, match="CATALYST_TEST_SECRET: secret is not set"):
        secrets["CATALYST_TEST_SECRET"]
    assert "CATALYST_TEST_SECRET" not in secrets
    assert secrets.get("CATALYST_TEST_SECRET") is None
    assert secrets.get("CATALYST_TEST_SECRET", "fallback") == "fallback"


def test_env_is_one_shared_live_view(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ExecutionContext("wf", None)
    # Held by the class: making a context does no work for it, and clones share it.
    assert ctx.env is ExecutionContext("other", None).env is ctx.clone().env
    assert isinstance(ctx.env, EnvVars)
    monkeypatch.setenv("CATALYST_TEST_REGION", "eu")
    assert ctx.env["CATALYST_TEST_REGION"] == "eu"
    monkeypatch.setenv("CATALYST_TEST_REGION", "us")
    assert ctx.env["CATALYST_TEST_REGION"] == "us"
    assert repr(ctx.env) == "EnvVars(<from environment>)"
    monkeypatch.delenv("CATALYST_TEST_REGION")
    with pytest.raises(ConfigError, match="CATALYST_TEST_REGION: environment variable is not set"):
        ctx.env["CATALYST_TEST_REGION"]
    assert ctx.env.get("CATALYST_TEST_REGION", "eu") == "eu"


def test_repr_names_the_nodes_that_ran() -> None:
    ctx = ExecutionContext("wf", None)
    with ctx.node("a"):
        pass
    assert "nodes=['a']" in repr(ctx)
    assert repr(ctx).startswith("ExecutionContext(workflow_id='wf', ")


def test_started_at_is_the_wall_clock_start_in_utc() -> None:
    # A run that started (monotonic clock) ten seconds before it was constructed.
    before = datetime.now(UTC)
    ctx = ExecutionContext("wf", None, started_ns=time.monotonic_ns() - 10 * 1_000_000_000)
    after = datetime.now(UTC)
    started = datetime.fromisoformat(ctx.started_at)
    assert started.tzinfo == UTC
    # Derived from the monotonic start, not from the first read: ten seconds before the wall
    # clock around construction, give or take a second (a loaded machine may pause between the
    # clock reads; the two clocks may drift a little).
    ten = timedelta(seconds=10)
    assert before - ten - timedelta(seconds=1) <= started <= after - ten + timedelta(seconds=1)
    assert ctx.clone().started_at == ctx.started_at


def test_started_at_is_kept_after_the_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ExecutionContext("wf", None)
    first = ctx.started_at
    # The wall clock moves an hour (an NTP step, or simply a later read): the run's start does not.
    later = time.time_ns() + 3600 * 1_000_000_000
    monkeypatch.setattr("catalyst_runtime.context.time_ns", lambda: later)
    assert ctx.started_at == first
    assert ctx.clone().started_at == first
    assert ExecutionContext("wf", None).started_at != first  # the moved clock is in use


def test_server_timing_and_timings_ms_read_exactly(clock: Clock) -> None:
    ctx = ExecutionContext("wf", None)
    with ctx.node("greet", "transform"):
        clock.now += 12_345  # 0.012345 ms
    with ctx.node("fetch", "http"):
        clock.now += 1_000_000_501  # just over a second: 1000.000501 ms
    started = clock.now
    clock.now += 2_000_000
    ctx.record_timing("late", started)
    clock.now += 345_678
    # Milliseconds with three decimals (the last one rounded), the nodes in the order they ran.
    assert ctx.server_timing() == (
        "greet;dur=0.012, fetch;dur=1000.001, late;dur=2.000, total;dur=1002.359"
    )
    assert ctx.timings_ms() == {"greet": 0.012, "fetch": 1000.001, "late": 2.0, "total": 1002.359}
    assert ctx.elapsed_ms == 1002.358524
    assert repr(ctx) == (
        "ExecutionContext(workflow_id='wf', nodes=['greet', 'fetch', 'late'], elapsed_ms=1002.359)"
    )


def test_server_timing_describes_the_nodes_that_left_a_note(clock: Clock) -> None:
    ctx = ExecutionContext("wf", None)
    with ctx.node("account"):
        clock.now += 1_000_000_501
    with ctx.node("fanout"):
        clock.now += 2_000_000
    with ctx.node("reply"):
        clock.now += 1_000_000_501
    ctx.note("account", "cache hit")
    ctx.note("fanout", "3 items")
    ctx.note("fanout", "12 items")  # the last note of a node is the one shown
    assert ctx.server_timing() == (
        'account;dur=1000.001;desc="cache hit", fanout;dur=2.000;desc="12 items", '
        "reply;dur=1000.001, total;dur=2002.001"
    )
    # A note for a node that did not run adds no entry of its own.
    ctx.note("skipped", "never ran")
    assert [part.split(";")[0] for part in ctx.server_timing().split(", ")] == [
        "account", "fanout", "reply", "total"
    ]  # fmt: skip


def test_a_branch_brings_back_its_timings_and_notes(clock: Clock) -> None:
    parent = ExecutionContext("wf", None)
    item = parent.clone()
    with item.node("account"):
        clock.now += 3_000_000
    item.note("account", "cache hit")
    assert parent.server_timing() == "total;dur=3.000"  # nothing of the branch until merged
    parent.merge(item)
    clock.now += 1_000_000
    assert parent.server_timing() == 'account;dur=3.000;desc="cache hit", total;dur=4.000'
    # A parent with notes of its own keeps them beside the branch's.
    second = parent.clone()
    with second.node("profile"):
        clock.now += 1_000_000
    parent.note("reply", "streamed")
    with parent.node("reply"):
        clock.now += 1_000_000
    parent.merge(second)
    assert parent.server_timing() == (
        'account;dur=3.000;desc="cache hit", reply;dur=1.000;desc="streamed", '
        "profile;dur=1.000, total;dur=6.000"
    )


def test_a_clone_shares_everything_but_its_timings() -> None:
    pools: Any = object()  # stands for ConnectionPools: shared by reference, never used here
    secrets = {"API_KEY": "k"}
    globals_ = {"region": "eu"}
    events = Events()
    parent = ExecutionContext("orders", {"id": 1}, pools=pools, secrets=secrets, globals=globals_)
    parent.events = events
    branch = parent.clone()
    assert branch.workflow_id == "orders"
    assert branch.pools is pools
    assert branch.secrets is secrets
    assert branch.globals is globals_
    assert branch.events is events
    assert branch.partial("item", {"n": 1}) == {"n": 1}
    assert events.told == [("item", {"n": 1})]


def test_a_context_keeps_what_it_is_given_and_defaults_the_rest() -> None:
    pools: Any = object()
    secrets = {"API_KEY": "k"}
    globals_ = {"region": "eu"}
    ctx = ExecutionContext("wf", None, pools=pools, secrets=secrets, globals=globals_)
    assert ctx.pools is pools
    assert ctx.secrets is secrets
    assert ctx.globals is globals_
    plain = ExecutionContext("wf", None)
    assert plain.pools is None
    assert plain.globals == {}
    assert isinstance(plain.secrets, EnvSecrets)
    assert plain.events is None


def test_partial_tells_a_streamed_run_and_returns_the_value() -> None:
    ctx = ExecutionContext("wf", None)
    value = {"message": "hi"}
    assert ctx.partial("greet", value) is value  # not streamed: nothing to tell
    events = Events()
    ctx.events = events
    assert ctx.partial("greet", value) is value
    assert ctx.partial("count", 0) == 0
    assert events.told == [("greet", value), ("count", 0)]


def test_the_input_observer_is_told_each_new_runs_input(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(ExecutionContext, "input_observer", seen.append)
    ExecutionContext("wf", {"plan": "pro"})
    ExecutionContext("wf", None)
    assert seen == [{"plan": "pro"}, None]


def test_a_new_context_names_its_workflow_for_the_log_lines_of_its_task() -> None:
    def run() -> tuple[str | None, str | None]:
        before = current_workflow()
        ExecutionContext("orders", None)
        return before, current_workflow()

    assert contextvars.Context().run(run) == (None, "orders")  # a new task's empty context


def _endpoint() -> None:
    """Stands for a generated route's function (its module defines ``WORKFLOW_ID``)."""


class _Route:
    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint


def test_a_generated_route_names_its_workflow_before_the_run_starts() -> None:
    def defined_in(module_globals: dict[str, Any]) -> Any:
        # The same function, as if its module's globals were these.
        return types.FunctionType(_endpoint.__code__, module_globals)

    assert workflow_of_route(_Route(defined_in({"WORKFLOW_ID": "orders"}))) == "orders"
    assert workflow_of_route(_Route(defined_in({}))) is None  # a hand-written route
    assert workflow_of_route(_Route(defined_in({"WORKFLOW_ID": 7}))) is None
    assert workflow_of_route(_Route(len)) is None  # a builtin has no module globals
    assert workflow_of_route(object()) is None  # a mount: no endpoint
    assert workflow_of_route(None) is None


def test_env_secrets_repr_names_no_value() -> None:
    assert repr(EnvSecrets()) == "EnvSecrets(<from environment>)"
