"""Running one ready set of independent async nodes at the same time."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["run_concurrently"]


async def run_concurrently(*nodes: Coroutine[Any, Any, Any]) -> tuple[Any, ...]:
    """Run ``nodes`` (one coroutine per node) concurrently; return their results in order.

    Generated code unpacks the tuple into one local per node:
    ``account, orders = await run_concurrently(_account(ctx, inp), _orders(ctx, inp))``.

    A ``TaskGroup`` rather than ``asyncio.gather``: when one node fails, its siblings are
    cancelled instead of running on unobserved after the response has gone, and nothing is left
    pending when the request ends. The group's ``ExceptionGroup`` is unwrapped to the first
    failure, so the error handlers see the node's own ``NodeError`` (502/504 naming the node).
    """
    failure: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(node) for node in nodes]
    except BaseExceptionGroup as failures:
        failure = _first(failures)
    if failure is not None:
        # Raised outside the handler: the node error keeps its own cause, not the group.
        raise failure
    return tuple(task.result() for task in tasks)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
