"""The ``parallel`` node: named branches run at once, bounded by a timeout.

Each branch is compiled to its own coroutine function; the generated code hands this helper one
coroutine per branch, so nothing walks a graph at run time::

    return await run_branches(
        ctx, "lookups", {"profile": _profile_row(ctx, inp), "orders": _lookups_orders(ctx, inp)}
    )
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from typing import Any

from .context import ExecutionContext
from .errors import NodeError, NodeTimeoutError
from .steps import first_error

__all__ = ["run_branches"]


async def run_branches(
    ctx: ExecutionContext,
    node_id: str,
    branches: Mapping[str, Coroutine[Any, Any, Any]],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - the node's own deadline for all branches
    partial: bool = False,
) -> dict[str, Any]:
    """Run every branch concurrently and give ``{branch: value}`` in the branches' order.

    Branches run as tasks of one ``asyncio.TaskGroup``: when one fails, the others are
    cancelled and awaited before the error propagates, and the error names the node and branch
    (``node "x" in branch "user" of "lookups"``). At ``timeout`` seconds the branches still
    running are cancelled the same way, so their connections are back in their pools before
    this returns; then the node fails with a 504 naming the unfinished branches, or, with
    ``partial``, those branches give ``None``.

    In a streamed run each branch that finishes is a ``partial`` event of its own (``{"node",
    "branch", "output"}``), in the order they finish.
    """
    tasks: dict[str, asyncio.Task[Any]] = {}
    failure: BaseException | None = None
    try:
        async with asyncio.timeout(timeout), asyncio.TaskGroup() as group:
            for name, branch in branches.items():
                tasks[name] = group.create_task(_branch(ctx, node_id, name, branch))
    except TimeoutError:
        unfinished = [name for name, task in tasks.items() if task.cancelled()]
        if not partial:
            names = ", ".join(f'"{name}"' for name in unfinished)
            raise NodeTimeoutError(
                node_id, f"branch {names} did not finish within {timeout:g} s"
            ) from None
        return {name: None if task.cancelled() else task.result() for name, task in tasks.items()}
    except BaseExceptionGroup as failures:
        failure = first_error(failures)
    if failure is not None:
        # Raised outside the handler: the node error keeps its own cause (the driver's error),
        # not the task group.
        raise failure
    return {name: task.result() for name, task in tasks.items()}


async def _branch(
    ctx: ExecutionContext, node_id: str, name: str, branch: Coroutine[Any, Any, Any]
) -> Any:
    try:
        value = await branch
    except NodeError as exc:
        raise exc.inside(node_id, name) from exc.__cause__
    if ctx.events is not None:
        # A streamed run tells its client each branch as it finishes, not only the whole node.
        ctx.events.partial(node_id, value, name)
    return value
