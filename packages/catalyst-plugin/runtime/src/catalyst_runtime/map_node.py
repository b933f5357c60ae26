"""The ``map`` node: the same nodes for each item of a list, a bounded number at once.

The nodes are compiled to one coroutine function taking ``(ctx, item, index, ...)``; the
generated code hands it to this helper with what it reads from around the map::

    return await run_map(ctx, "fanout", inp.ids, _fanout_item, inp, concurrency=4)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from .context import EventSink, ExecutionContext
from .errors import NodeError, node_error
from .steps import first_error

__all__ = ["DEFAULT_CONCURRENCY", "MapTooLarge", "run_map"]

DEFAULT_CONCURRENCY: Final = 8
"""Items a map runs at once unless its definition says (``concurrency``, at most 64)."""

_DEFAULT_MAX_ITEMS: Final = 1000


class MapTooLarge(NodeError):
    """The list a map node runs over is longer than ``CATALYST_MAX_MAP_ITEMS`` allows."""

    status_code = 422
    error_type = "too_many_items"

    def __init__(self, node_id: str, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(
            node_id,
            f"map over {count} items; at most {limit} are allowed (CATALYST_MAX_MAP_ITEMS)",
        )


async def run_map(
    ctx: ExecutionContext,
    node_id: str,
    items: Sequence[Any],
    each: Callable[..., Awaitable[Any]],
    *args: Any,
    concurrency: int = DEFAULT_CONCURRENCY,
    collect: bool = False,
) -> Any:
    """Run ``each(ctx, item, index, *args)`` for every item; give the values in item order.

    At most ``concurrency`` items run at once: that many workers take the next index from one
    iterator, so a list of 1000 items makes ``concurrency`` tasks, not 1000. The first failing
    item fails the node (``node "x" in item 3 of "fanout"``) once the other workers are
    cancelled and awaited. With ``collect``, a failing item gives ``None`` in ``results`` and
    ``{"index", "status", "message"}`` in ``errors`` instead, and the others run on.

    The nodes inside run once per item, so ``Server-Timing`` would grow with the list: each
    one's entry is instead its total time over all items, and the map's own entry says how many
    items it ran (``fanout;dur=…;desc="12 items"``).
    """
    if not isinstance(items, list | tuple):
        raise NodeError(node_id, f"map over {type(items).__name__}, not a list")
    limit = ctx.pools.settings.max_map_items if ctx.pools is not None else _DEFAULT_MAX_ITEMS
    if len(items) > limit:
        raise MapTooLarge(node_id, len(items), limit)
    results: list[Any] = [None] * len(items)
    errors: list[dict[str, Any]] = []
    indexes = iter(range(len(items)))
    timings = _Totals(ctx)

    async def worker() -> None:
        for index in indexes:
            item_ctx = timings.context()
            try:
                results[index] = await each(item_ctx, items[index], index, *args)
            except Exception as exc:
                error = node_error(node_id, exc)
                if not isinstance(error, NodeError):
                    raise  # a misconfigured service, not a failing item
                if error.node_id != node_id:
                    error = error.inside(node_id, index)
                if not collect:
                    if error is exc:
                        raise
                    # The cause is the driver's error, whether ``exc`` is it or a node error
                    # that already carries it.
                    raise error from (exc.__cause__ if isinstance(exc, NodeError) else exc)
                errors.append(
                    {"index": index, "status": error.status_code, "message": error.message}
                )
            finally:
                timings.add(item_ctx)

    failure: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(concurrency, len(items))):
                group.create_task(worker())
    except BaseExceptionGroup as failures:
        failure = first_error(failures)
    finally:
        timings.record(node_id, len(items))
    if failure is not None:
        raise failure  # outside the handler: the error keeps its own cause
    if collect:
        errors.sort(key=_index)
        return {"results": results, "errors": errors}
    return results


def _index(error: dict[str, Any]) -> int:
    index: int = error["index"]
    return index


class _Totals:
    """Each item runs on a context of its own (``ctx.clone()``) whose timings are summed here
    per node, so ``Server-Timing`` holds one entry per node however long the list."""

    __slots__ = ("_ctx", "_events", "_totals")

    def __init__(self, ctx: ExecutionContext) -> None:
        self._ctx = ctx
        self._totals: dict[str, int] = {}
        self._events = None if ctx.events is None else _TokensOnly(ctx.events)

    def context(self) -> ExecutionContext:
        item = self._ctx.clone()
        if self._events is not None:
            item.events = self._events
        return item

    def add(self, item_ctx: ExecutionContext) -> None:
        for node, ns in item_ctx.timings.items():
            self._totals[node] = self._totals.get(node, 0) + ns

    def record(self, node_id: str, count: int) -> None:
        self._ctx.timings.update(self._totals)
        self._ctx.note(node_id, f"{count} items")


class _TokensOnly:
    """A streamed run's events inside a map's items: tokens go through, partials do not. The
    nodes inside run once per item, so their partials would grow with the list; the map's own
    partial (the whole list) tells the client instead."""

    __slots__ = ("_sink",)

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink

    def token(self, node_id: str, text: str) -> None:
        self._sink.token(node_id, text)

    def partial(self, node_id: str, output: Any, branch: str | None = None) -> None:
        return None
