"""NodeTasks: a run's async nodes in one task group, each starting when its inputs are ready."""

from __future__ import annotations

import asyncio

import pytest

from catalyst_runtime import ExecutionContext, NodeTasks, UpstreamError


class Recorder:
    """Nodes that record when they start and end, finishing in an order the test controls."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    def node(self, name: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
        self.release[name] = asyncio.Event()

        async def run(*inputs: object) -> str:
            self.events.append(f"start {name} {list(inputs)}")
            try:
                await self.release[name].wait()
            except asyncio.CancelledError:
                self.events.append(f"cancelled {name}")
                raise
            if fail:
                raise UpstreamError(name, "down")
            self.events.append(f"end {name}")
            return name.upper()

        return run


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_a_node_starts_when_its_inputs_are_done_not_when_its_set_is() -> None:
    r = Recorder()
    a, b, c = r.node("a"), r.node("b"), r.node("c")
    async with ExecutionContext("wf", None).tasks() as tasks:
        ta = tasks.start(a)
        tasks.start(b)
        tasks.start(c, "x", ta)  # c needs a, not b
        await _settle()
        assert r.events == ["start a []", "start b []"]
        r.release["a"].set()
        await _settle()
        # c started with a's value while b is still running.
        assert r.events == ["start a []", "start b []", "end a", "start c ['x', 'A']"]
        r.release["c"].set()
        r.release["b"].set()
    assert tasks.results() == ("A", "B", "C")


@pytest.mark.anyio
async def test_after_waits_for_a_node_without_passing_its_value() -> None:
    r = Recorder()
    a, b = r.node("a"), r.node("b")
    async with NodeTasks() as tasks:
        ta = tasks.start(a)
        tasks.start(b, after=(ta,))
        await _settle()
        assert r.events == ["start a []"]
        r.release["a"].set()
        await _settle()
        assert r.events == ["start a []", "end a", "start b []"]
        r.release["b"].set()
    assert tasks.results() == ("A", "B")


@pytest.mark.anyio
async def test_a_failure_cancels_the_others_and_is_raised_itself() -> None:
    r = Recorder()
    a, b, c = r.node("a", fail=True), r.node("b"), r.node("c")
    with pytest.raises(UpstreamError, match='node "a"') as caught:
        async with NodeTasks() as tasks:
            ta = tasks.start(a)
            tasks.start(b)
            tasks.start(c, ta)
            await _settle()
            r.release["a"].set()
    assert not isinstance(caught.value, BaseExceptionGroup)
    assert "cancelled b" in r.events
    # c never started: the node it needed failed.
    assert not any(e.startswith("start c") for e in r.events)
