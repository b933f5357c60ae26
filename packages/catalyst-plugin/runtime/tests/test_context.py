from __future__ import annotations

import importlib.util
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from catalyst_runtime import ConfigError, ExecutionContext
from catalyst_runtime.context import EnvSecrets, EnvVars


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
