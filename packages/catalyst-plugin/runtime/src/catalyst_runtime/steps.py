"""Running a workflow's async nodes at once: each starts as soon as its inputs are ready."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["NodeTasks", "run_concurrently"]

T = TypeVar("T")


class NodeTasks:
    """The async nodes of one run, as tasks in one ``asyncio.TaskGroup`` (dataflow order).

    Generated code starts every node in the order of the graph, passing the tasks of the nodes
    it reads; each waits for exactly those, so a node starts as soon as the nodes it needs have
    finished, not when a whole ready set has::

        async with ctx.tasks() as tasks:
            account = tasks.start(_account, ctx, inp)
            orders = tasks.start(_orders, ctx, inp)
            audit = tasks.start(_audit, ctx, inp, account)  # waits for account only
        account, orders, audit = tasks.results()

    A ``TaskGroup`` rather than ``asyncio.gather``: when one node fails, the others are
    cancelled instead of running on unobserved after the response has gone, and nothing is left
    pending when the request ends. The group's ``ExceptionGroup`` is unwrapped to the first
    failure, so the error handlers see that node's own ``NodeError`` (502/504 naming the node).
    """

    __slots__ = ("_group", "_tasks")

    def __init__(self) -> None:
        self._group = asyncio.TaskGroup()
        self._tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> NodeTasks:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failure: BaseException | None = None
        try:
            await self._group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as failures:
            failure = first_error(failures)
        if failure is not None:
            # Raised outside the handler: the node error keeps its own cause, not the group.
            raise failure

    def start(
        self,
        node: Callable[..., Awaitable[T]],
        *args: Any,
        after: tuple[asyncio.Task[Any], ...] = (),
    ) -> asyncio.Task[T]:
        """Start ``node(*args)``. Arguments that are tasks of other nodes are awaited first and
        passed as their values; ``after`` tasks (a definition's ``after:``) are awaited, not
        passed."""
        if after or any(isinstance(arg, asyncio.Task) for arg in args):
            task = self._group.create_task(_after_inputs(node, args, after))
        else:
            task = self._group.create_task(_call(node, args))
        self._tasks.append(task)
        return task

    def results(self) -> tuple[Any, ...]:
        """Every started node's value, in the order they were started (once the group is done)."""
        return tuple(task.result() for task in self._tasks)


async def _call(node: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> T:
    return await node(*args)


async def _after_inputs(
    node: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    after: tuple[asyncio.Task[Any], ...],
) -> T:
    for task in after:
        await task
    values = [await arg if isinstance(arg, asyncio.Task) else arg for arg in args]
    return await node(*values)


async def run_concurrently(*nodes: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
    """Run ``nodes`` (one coroutine per node) concurrently; return their results in order.

    The same task group and error unwrapping as ``NodeTasks``, for coroutines that need nothing
    from each other (hand-written code, tests).
    """
    async with NodeTasks() as tasks:
        for node in nodes:
            tasks.start(_coroutine, node)
    return tasks.results()


async def _coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    return await coroutine


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first failure in a task group's ``ExceptionGroup`` (nested groups unwrapped)."""
    first = group.exceptions[0]
    return first_error(first) if isinstance(first, BaseExceptionGroup) else first
