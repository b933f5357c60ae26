"""Micro-benchmarks of the runtime's hot paths (pyperf). Run: node tools/bench/runtime-micro.mjs

Each figure is the time of one operation, measured over many loops in pyperf worker processes.
The table is printed and written to --table (markdown).

With --memory, nothing is timed: the script prints (and writes to --table) the bytes per
``ExecutionContext`` with ``__slots__`` against the same class without them, measured as
``test_slots_use_less_memory_than_a_plain_class`` does, in this process (no pyperf workers)::

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \
        python tools/bench/runtime_micro.py --memory
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Callable, Coroutine
from importlib.metadata import version
from pathlib import Path
from time import perf_counter
from typing import Any

import pyperf  # type: ignore[import-untyped]
import uvloop
from catalyst_runtime import ExecutionContext, InMemoryRateLimiter, LRUCache, cached, format_sse
from catalyst_runtime.bodies import dumps

NAMES = [f"node{i}" for i in range(10)]
OUTPUT = {"rows": [{"id": 1, "title": "a"}], "count": 1}


def context_create_ten_nodes(loops: int) -> float:
    """A context, and ten nodes each run in its ``with ctx.node()`` block, as generated code
    does: the block times the node, and its value goes to a local."""
    payload = {"query": "hello"}
    started = perf_counter()
    for _ in range(loops):
        ctx = ExecutionContext("wf", payload)
        for name in NAMES:
            with ctx.node(name, "transform"):
                output = OUTPUT
    elapsed = perf_counter() - started
    assert output is OUTPUT  # the block ran, and its value reached the local
    return elapsed


def context_branch_clone_merge(loops: int) -> float:
    """One parallel branch of a context that has already timed 100 nodes: ``clone()``, one
    node in the branch, ``merge()`` back."""
    ctx = ExecutionContext("wf", {"query": "hello"})
    for i in range(100):
        ctx.timings[f"node{i}"] = 12_345
    started = perf_counter()
    for _ in range(loops):
        branch = ctx.clone()
        with branch.node("branch"):
            output = OUTPUT
        ctx.merge(branch)
    elapsed = perf_counter() - started
    assert output is OUTPUT  # the block ran, and its value reached the local
    return elapsed


def server_timing_ten_nodes(loops: int) -> float:
    ctx = ExecutionContext("wf", None)
    for name in NAMES:
        ctx.timings[name] = 12_345
    started = perf_counter()
    for _ in range(loops):
        ctx.server_timing()
    return perf_counter() - started


def _on_uvloop(make: Callable[[int], Coroutine[Any, Any, float]]) -> Callable[[int], float]:
    def run(loops: int) -> float:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(make(loops))

    return run


async def _limiter_acquire(loops: int) -> float:
    limiter = InMemoryRateLimiter(interval=1e-9)  # never waits: the uncontended path
    acquire = limiter.acquire
    started = perf_counter()
    for _ in range(loops):
        await acquire("api")
    return perf_counter() - started


def lru_hit(loops: int) -> float:
    cache = LRUCache(maxsize=1024)
    for i in range(1024):
        cache.set_now(f"emb:{i}", [0.1] * 8, ttl=3600)
    get = cache.get_now
    started = perf_counter()
    for _ in range(loops):
        get("emb:512")
    return perf_counter() - started


async def _cached_hit(loops: int) -> float:
    @cached(ttl=3600, key_fn=lambda text: text)
    async def embed(text: str) -> list[float]:
        return [0.1] * 8

    await embed("hello")
    started = perf_counter()
    for _ in range(loops):
        await embed("hello")
    return perf_counter() - started


def format_sse_1kb(loops: int) -> float:
    data = {"node": "docs", "text": "x" * 1000}
    assert 1000 < len(dumps(data)) < 1100
    started = perf_counter()
    for _ in range(loops):
        format_sse("partial", data)
    return perf_counter() - started


BENCHMARKS: list[tuple[str, str, Callable[[int], float]]] = [
    (
        "context_create_10_nodes",
        "ExecutionContext() + 10 x with ctx.node()",
        context_create_ten_nodes,
    ),
    (
        "context_branch_clone_merge",
        "clone() + 1 x with branch.node() + merge(), parent timed 100 nodes",
        context_branch_clone_merge,
    ),
    ("server_timing_10_nodes", "server_timing() header, 10 nodes", server_timing_ten_nodes),
    (
        "limiter_acquire_uncontended",
        "InMemoryRateLimiter.acquire, uncontended (awaited)",
        _on_uvloop(_limiter_acquire),
    ),
    ("lru_hit", "LRUCache hit (get_now)", lru_hit),
    ("cached_hit", "@cached call, in-memory hit (awaited)", _on_uvloop(_cached_hit)),
    ("format_sse_1kb", "format_sse of a 1 KB payload", format_sse_1kb),
]


# ExecutionContext's own __init__ on a class without __slots__: the same attributes, the same
# values (the started_ns integer and the empty timings dict included), only the storage differs.
PlainContext: Any = type("PlainContext", (), {"__init__": ExecutionContext.__init__})
MEMORY_COUNT = 5000


def _bytes_per_instance(factory: Callable[[], object], count: int = MEMORY_COUNT) -> float:
    """Bytes traced per object while ``count`` of them are alive (the list is allocated first)."""
    objects: list[object] = [None] * count
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(count):
            objects[i] = factory()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del objects
    return size / count


def _plain_with_materialized_dict() -> object:
    plain = PlainContext("wf", None)
    _ = plain.__dict__  # what vars(), pickling, copy or a debugger do to an instance
    return plain


def memory_figures(count: int = MEMORY_COUNT) -> tuple[float, float, float]:
    """Bytes per instance: slotted, plain, plain with ``__dict__`` materialised.

    Also what ``test_slots_use_less_memory_than_a_plain_class`` asserts on.
    """
    return (
        _bytes_per_instance(lambda: ExecutionContext("wf", None), count),
        _bytes_per_instance(lambda: PlainContext("wf", None), count),
        _bytes_per_instance(_plain_with_materialized_dict, count),
    )


def memory_table() -> str:
    slotted, plain, plain_dict = memory_figures()
    rows = [
        ("ExecutionContext (`__slots__`)", slotted),
        ("same `__init__`, no `__slots__`", plain),
        ("same, after `__dict__` is materialised", plain_dict),
    ]
    lines = [
        f"Python {sys.version.split()[0]}, {MEMORY_COUNT} live instances under tracemalloc, "
        "each with its empty timings dict\n",
        "| instance | bytes | slots save |",
        "|---|---:|---:|",
    ]
    for label, size in rows:
        saving = "" if size == slotted else f"{(1 - slotted / size) * 100:.0f} %"
        lines.append(f"| {label} | {size:.0f} | {saving} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    runner = pyperf.Runner()
    runner.argparser.add_argument("--table", help="write the markdown table to this file")
    runner.argparser.add_argument(
        "--memory",
        action="store_true",
        help="print the bytes per ExecutionContext with and without __slots__ instead of timing",
    )
    if runner.parse_args().memory:
        table = memory_table()
        print(table, end="")
        if runner.args.table:
            Path(runner.args.table).write_text(table, encoding="utf-8")
        return
    results = []
    for name, label, func in BENCHMARKS:
        bench = runner.bench_time_func(name, func)
        if bench is not None:
            results.append((label, bench))
    if runner.args.worker or not results:
        return
    lines = [
        "| operation | mean | std dev |",
        "|---|---:|---:|",
    ]
    for label, bench in results:
        values = bench.get_values()
        spread = f"±{bench.stdev() * 1e6:.3f} µs" if len(values) > 1 else "n/a"
        lines.append(f"| {label} | {bench.mean() * 1e6:.3f} µs | {spread} |")
    table = "\n".join(lines) + "\n"
    versions = f"pyperf {pyperf.__version__}, uvloop {version('uvloop')}"
    header = f"Python {sys.version.split()[0]}, {versions}\n\n"
    print("\n" + header + table)
    if runner.args.table:
        Path(runner.args.table).write_text(header + table, encoding="utf-8")


if __name__ == "__main__":
    main()
