"""A second (and third) process for the tests that share state through Redis.

python worker.py limit REDIS_URL KEY INTERVAL COUNT START_AT
    acquires COUNT slots of a RedisRateLimiter on KEY from wall-clock time START_AT and prints
    the wall-clock times at which it got them, as JSON.
python worker.py cache REDIS_URL PREFIX ARG
    calls a @cached(backend=RedisCache) function once and prints its result and the cache stats.
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson
from redis.asyncio import Redis

from catalyst_runtime import RedisCache, RedisRateLimiter, cached


async def limit(url: str, key: str, interval: float, count: int, start_at: float) -> None:
    client = Redis.from_url(url)
    limiter = RedisRateLimiter(client, interval=interval)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    times = []
    for _ in range(count):
        await limiter.acquire(key)
        times.append(time.time())
    await client.aclose()
    print(orjson.dumps(times).decode())


async def cache(url: str, prefix: str, arg: str) -> None:
    client = Redis.from_url(url)

    @cached(ttl=60, key_fn=lambda text: f"len:{text}", backend=RedisCache(client, prefix=prefix))
    async def expensive(text: str) -> dict[str, int]:
        calls = await client.incr(f"{prefix}calls")
        return {"length": len(text), "computed_by_call": calls}

    result = await expensive(arg)
    stats = expensive.stats
    await client.aclose()
    print(orjson.dumps({"result": result, "hits": stats.hits, "misses": stats.misses}).decode())


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "limit":
        url, key, interval, count, start_at = args
        asyncio.run(limit(url, key, float(interval), int(count), float(start_at)))
    else:
        url, prefix, arg = args
        asyncio.run(cache(url, prefix, arg))
