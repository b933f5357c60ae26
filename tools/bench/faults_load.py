"""The load and the counting behind the faults under load of ``npm run bench`` (f-faults.mjs).

wrk counts answers but does not read them; here every answer is kept with what it says, so the
driver can check that a request sent while a server was away got a 5xx in JSON naming the node.

    python faults_load.py load URL --connections 64 --seconds 600
        POST /visit in a closed loop on N connections until stdin is closed (S seconds at the
        most); prints one JSON object:
        {"events": [[sent, answered, status, what, message], ...]} with wall-clock times
        (time.time()), ``what`` the node a 5xx names ("nonjson" for a 5xx without the JSON body,
        the exception's class for no answer, status 0; "" for a 200) and ``message`` its text.
    python faults_load.py burst URL --connections 20 --sleep 1.5 --dsn DSN --name NAME --busy 10
        N requests at once, each holding a connection for ``sleep`` s; prints "IN FLIGHT" once
        ``busy`` of the service's connections (``application_name`` NAME) run a query, then the
        same JSON as ``load``.
    python faults_load.py count DSN REDIS_URL NAME
        {"postgres": n, "redis": m}: the service's connections on each server's own list
        (pg_stat_activity by application_name, CLIENT LIST by name).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from typing import Any

import aiohttp
import asyncpg
import orjson
import redis.asyncio as redis

SQL_COUNT = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
SQL_BUSY = SQL_COUNT + " AND state = 'active' AND query LIKE '%pg_sleep%'"


async def one(session: aiohttp.ClientSession, url: str, body: bytes) -> list[Any]:
    sent = time.time()
    try:
        async with session.post(url, data=body, headers={"content-type": "application/json"}) as r:
            raw = await r.read()
            what, message = "", ""
            if r.status != 200:
                try:
                    detail = orjson.loads(raw)["detail"][0]
                    what, message = detail["loc"][1], detail["msg"]
                except (ValueError, KeyError, IndexError, TypeError):
                    what, message = "nonjson", raw[:200].decode(errors="replace")
            return [sent, time.time(), r.status, what, message]
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return [sent, time.time(), 0, type(exc).__name__, str(exc)[:200]]


def session(connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def load(url: str, connections: int, seconds: float, sleep: float) -> list[list[Any]]:
    events: list[list[Any]] = []
    deadline = time.monotonic() + seconds
    # The driver ends the load by closing stdin: its own steps (a server stopped, started,
    # connections counted) take as long as they take on a busy machine.
    ended = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), ended.set()), daemon=True).start()

    async def client(index: int, s: aiohttp.ClientSession) -> None:
        body = orjson.dumps({"page": f"p{index % 8}", "seconds": sleep})
        while not ended.is_set() and time.monotonic() < deadline:
            event = await one(s, f"{url}/visit", body)
            events.append(event)
            if event[2] == 0:
                await asyncio.sleep(0.05)  # no answer: do not spin on a refused port

    async with session(connections) as s:
        await asyncio.gather(*(client(i, s) for i in range(connections)))
    return events


async def burst(url: str, connections: int, sleep: float, dsn: str, name: str, busy: int) -> Any:
    body = orjson.dumps({"page": "slow", "seconds": sleep})
    async with session(connections) as s:
        requests = [asyncio.ensure_future(one(s, f"{url}/visit", body)) for _ in range(connections)]
        watcher = await asyncpg.connect(dsn)
        try:
            while await watcher.fetchval(SQL_BUSY, name) < busy:
                if any(r.done() for r in requests):
                    break  # something ended early: the driver sees it in the events
                await asyncio.sleep(0.02)
        finally:
            await watcher.close()
        print("IN FLIGHT", flush=True)
        return await asyncio.gather(*requests)


async def count(dsn: str, redis_url: str, name: str) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    try:
        on_postgres = int(await connection.fetchval(SQL_COUNT, name))
    finally:
        await connection.close()
    client = redis.Redis.from_url(redis_url)
    try:
        on_redis = sum(1 for c in await client.client_list() if c.get("name") == name)
    finally:
        await client.aclose()
    return {"postgres": on_postgres, "redis": on_redis}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load")
    p.add_argument("url")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--sleep", type=float, default=0.0)
    b = sub.add_parser("burst")
    b.add_argument("url")
    b.add_argument("--connections", type=int, default=20)
    b.add_argument("--sleep", type=float, default=1.5)
    b.add_argument("--dsn", required=True)
    b.add_argument("--name", required=True)
    b.add_argument("--busy", type=int, default=10)
    c = sub.add_parser("count")
    c.add_argument("dsn")
    c.add_argument("redis_url")
    c.add_argument("name")
    args = parser.parse_args()
    if args.command == "load":
        out: Any = {
            "events": asyncio.run(load(args.url, args.connections, args.seconds, args.sleep))
        }
    elif args.command == "burst":
        out = {
            "events": asyncio.run(
                burst(args.url, args.connections, args.sleep, args.dsn, args.name, args.busy)
            )
        }
    else:
        out = asyncio.run(count(args.dsn, args.redis_url, args.name))
    sys.stdout.write(orjson.dumps(out).decode() + "\n")


if __name__ == "__main__":
    main()
