"""How long one ``vector_search`` holds the process in Qdrant's local mode.

Local mode (no ``QDRANT_URL``) is qdrant-client's embedded engine: synchronous code behind
``async def``, so a search blocks the service's event loop for its whole duration. This seeds an
in-memory collection of random vectors (cosine) and times ``vector_search`` as generated code
calls it, without and with a payload filter, to put a number on "small collections only":

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \\
        python tools/bench/vector_search_local.py [--dimensions 384] [--searches 30] [POINTS...]

Prints one line per collection size and query: the median and the slowest search.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

from catalyst_runtime import ConnectionPools, ExecutionContext, Settings, vector_search
from qdrant_client import models


async def measure(points: int, dimensions: int, searches: int) -> None:
    pools = await ConnectionPools.create(Settings(), ["qdrant"])
    try:
        client = pools.qdrant
        await client.create_collection(
            "bench",
            vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE),
        )
        rnd = random.Random(1)  # noqa: S311 - benchmark data, not secrets
        for start in range(0, points, 1000):
            batch = [
                models.PointStruct(
                    id=i,
                    vector=[rnd.random() for _ in range(dimensions)],
                    payload={"lang": "en" if i % 2 else "fr", "title": f"t{i}"},
                )
                for i in range(start, min(start + 1000, points))
            ]
            await client.upsert("bench", points=batch)
        ctx = ExecutionContext("bench", None, pools=pools)
        vector = [rnd.random() for _ in range(dimensions)]
        queries: dict[str, dict[str, Any]] = {
            "no filter": {},
            "must + payload keys": {"must": {"lang": "en"}, "payload": ["title"]},
        }
        for label, options in queries.items():
            times = []
            for _ in range(searches):
                started = time.perf_counter()
                await vector_search(ctx, "bench", "bench", vector, limit=10, **options)
                times.append(time.perf_counter() - started)
            print(
                f"{points} points x {dimensions}, {label}: median "
                f"{statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} ms"
            )
    finally:
        await pools.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("points", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--searches", type=int, default=30)
    args = parser.parse_args()
    for points in args.points:
        asyncio.run(measure(points, args.dimensions, args.searches))


if __name__ == "__main__":
    main()
