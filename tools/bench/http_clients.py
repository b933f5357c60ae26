"""Which asyncio HTTP client should the ``http`` pool hold? Measured on the node's own work.

Each candidate makes the calls scenario B makes (a GET with headers and a query string, a POST
with a JSON body, alternating) to a loopback upstream that answers at once and to one that
answers after 10 ms, at concurrency 1 and 64, under uvloop, and does what ``http_call`` does with
an answer: a total deadline per attempt (``asyncio.timeout``), the status, the headers as a dict
with lower-case keys, the body read in chunks against a 4 MiB cap, parsed with orjson. Every
client is configured as the pool is (200 connections, keep-alive, no cookies kept, no redirects).

CPU time per call is ``time.process_time`` of this process only (the upstream runs in another
process), so load elsewhere on the machine hardly moves it; wall time does move with load.
Rounds are interleaved: every round runs every client in a rotated order.

    node tools/uv.mjs venv /tmp/clientbench
    VIRTUAL_ENV=/tmp/clientbench node tools/uv.mjs pip install -r tools/bench/http_clients.txt
    /tmp/clientbench/bin/python tools/bench/http_clients.py [--rounds 3] [--calls 2000]

Prints one JSON line per measurement, then a Markdown table of medians (``CLIENTS_TABLE``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import uvloop

HERE = Path(__file__).resolve().parent
CAP = 4 * 1024 * 1024
HEADERS = {"Authorization": "Bearer bench-token", "X-Request-Source": "bench"}
QUERY = {"user": "ada", "limit": "5"}
PAYLOAD = {"user": "ada", "seen": 200}

# (status, headers, body) for one call
Answer = tuple[int, dict[str, str], Any]
Call = Callable[[str, str], Awaitable[Answer]]


class TooLarge(Exception):
    pass


def _parse(content: bytes) -> Any:
    return orjson.loads(content) if content else None


# ---------------------------------------------------------------------------------------------
# Candidates: make(settings) -> (call, close)


async def make_httpx(module_name: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    httpx = __import__(module_name)
    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        timeout=httpx.Timeout(30, connect=5),
    )

    async def call(method: str, url: str) -> Answer:
        if method == "GET":
            request = client.build_request("GET", url, headers=HEADERS, params=QUERY)
        else:
            request = client.build_request("POST", url, headers=HEADERS, json=PAYLOAD)
        async with asyncio.timeout(30):
            response = await client.send(request, stream=True)
            try:
                headers = dict(response.headers)
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > CAP:
                        raise TooLarge
                    chunks.append(chunk)
            finally:
                await response.aclose()
        return response.status_code, headers, _parse(b"".join(chunks))

    return call, client.aclose


async def make_aiohttp(_: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=200, limit_per_host=0),
        timeout=aiohttp.ClientTimeout(total=None, connect=5),
        cookie_jar=aiohttp.DummyCookieJar(),
        json_serialize=lambda v: orjson.dumps(v).decode(),
    )
    post_headers = {**HEADERS, "Content-Type": "application/json"}

    async def call(method: str, url: str) -> Answer:
        async with asyncio.timeout(30):
            if method == "GET":
                cm = session.request("GET", url, headers=HEADERS, params=QUERY,
                                     allow_redirects=False)  # fmt: skip
            else:
                cm = session.request("POST", url, headers=post_headers,
                                     data=orjson.dumps(PAYLOAD), allow_redirects=False)  # fmt: skip
            async with cm as response:
                headers: dict[str, str] = {}
                for key, value in response.raw_headers:
                    name = key.decode("latin-1").lower()
                    text = value.decode("latin-1")
                    headers[name] = f"{headers[name]}, {text}" if name in headers else text
                chunks, size = [], 0
                async for chunk in response.content.iter_any():
                    size += len(chunk)
                    if size > CAP:
                        raise TooLarge
                    chunks.append(chunk)
        return response.status, headers, _parse(b"".join(chunks))

    return call, session.close


async def make_pyreqwest(_: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from datetime import timedelta

    from pyreqwest.client import ClientBuilder

    client = (
        ClientBuilder()
        .max_connections(200)
        .pool_max_idle_per_host(100)
        .connect_timeout(timedelta(seconds=5))
        .follow_redirects(False)
        .build()
    )
    body = orjson.dumps(PAYLOAD)
    post_headers = {**HEADERS, "Content-Type": "application/json"}

    async def call(method: str, url: str) -> Answer:
        async with asyncio.timeout(30):
            if method == "GET":
                builder = client.request("GET", url).headers(HEADERS).query(QUERY)
            else:
                builder = client.request("POST", url).headers(post_headers).body_bytes(body)
            async with builder.build_streamed() as response:
                headers: dict[str, str] = {}
                for key, value in response.headers.items():
                    headers[key] = f"{headers[key]}, {value}" if key in headers else value
                chunks, size = [], 0
                reader = response.body_reader
                while (chunk := await reader.read_chunk()) is not None:
                    data = bytes(chunk)
                    size += len(data)
                    if size > CAP:
                        raise TooLarge
                    chunks.append(data)
        return response.status, headers, _parse(b"".join(chunks))

    return call, client.close


async def make_aiosonic(_: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import aiosonic
    from aiosonic.connectors import TCPConnector
    from aiosonic.pools import PoolConfig

    connector = TCPConnector(pool_configs={":default": PoolConfig(size=200)})
    client = aiosonic.HTTPClient(connector=connector)
    body = orjson.dumps(PAYLOAD)
    post_headers = {**HEADERS, "Content-Type": "application/json"}

    async def call(method: str, url: str) -> Answer:
        async with asyncio.timeout(30):
            if method == "GET":
                response = await client.request(url, "GET", headers=HEADERS, params=QUERY)
            else:
                response = await client.request(url, "POST", headers=post_headers, data=body)
            headers = {k.lower(): v for k, v in response.headers.items()}
            content = await response.content()
            if len(content) > CAP:
                raise TooLarge
        return response.status_code, headers, _parse(content)

    return call, connector.cleanup


async def make_niquests(_: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import niquests

    session = niquests.AsyncSession(pool_connections=10, pool_maxsize=200)

    async def call(method: str, url: str) -> Answer:
        async with asyncio.timeout(30):
            if method == "GET":
                response = await session.get(url, headers=HEADERS, params=QUERY, stream=True,
                                             allow_redirects=False, timeout=30)  # fmt: skip
            else:
                response = await session.post(url, headers=HEADERS, json=PAYLOAD, stream=True,
                                              allow_redirects=False, timeout=30)  # fmt: skip
            headers = {k.lower(): v for k, v in response.headers.items()}
            chunks, size = [], 0
            async for chunk in await response.iter_content(65536):
                size += len(chunk)
                if size > CAP:
                    raise TooLarge
                chunks.append(chunk)
            await response.close()
        return response.status_code, headers, _parse(b"".join(chunks))

    return call, session.close


CANDIDATES: dict[str, tuple[str, Callable[[str], Awaitable[tuple[Call, Any]]]]] = {
    "httpx": ("httpx", make_httpx),
    "httpx2": ("httpx2", make_httpx),
    "aiohttp": ("aiohttp", make_aiohttp),
    "pyreqwest": ("pyreqwest", make_pyreqwest),
    "aiosonic": ("aiosonic", make_aiosonic),
    "niquests": ("niquests", make_niquests),
}


# ---------------------------------------------------------------------------------------------
# Measurement


async def run_calls(call: Call, base: str, calls: int, concurrency: int) -> None:
    targets = [("GET", f"{base}/accounts/ada"), ("POST", f"{base}/audit")]
    next_call = 0

    async def worker() -> None:
        nonlocal next_call
        while next_call < calls:
            method, url = targets[next_call % 2]
            next_call += 1
            status, headers, body = await call(method, url)
            if status not in (200, 201) or "content-type" not in headers:
                raise AssertionError(f"unexpected answer {status} {headers} {body}")
            if method == "GET" and body != {"name": "ada"}:
                raise AssertionError(f"unexpected body {body!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(
    name: str, module: str, make: Any, base: str, calls: int, c: int
) -> dict[str, Any]:
    call, close = await make(module)
    try:
        await run_calls(call, base, min(calls, 4 * c + 20), c)  # warm-up: connections open
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await run_calls(call, base, calls, c)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await close()
    return {"client": name, "concurrency": c, "calls": calls,
            "cpu_us_per_call": cpu / calls * 1e6, "wall_us_per_call": wall / calls * 1e6,
            "calls_per_s": calls / wall}  # fmt: skip


def start_upstream(delay_ms: int) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "uvicorn", "upstream_app:app", "--port", str(port),
         "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log",
         "--app-dir", str(HERE / "http")],
        env={**os.environ, "BENCH_UPSTREAM_DELAY_MS": str(delay_ms)},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}/accounts/x", timeout=1).read()  # noqa: S310
            return process, url
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.1)


def versions() -> dict[str, str]:
    names = ["httpx", "httpcore", "httpx2", "httpcore2", "aiohttp", "pyreqwest", "aiosonic",
             "niquests", "uvloop", "orjson"]  # fmt: skip
    found = {}
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    found["python"] = sys.version.split()[0]
    return found


async def main(args: argparse.Namespace) -> None:
    chosen = [c for c in args.clients.split(",") if c]
    upstreams = {}
    for delay in (0, 10):
        upstreams[delay] = start_upstream(delay)
    results: list[dict[str, Any]] = []
    try:
        print(json.dumps({"versions": versions(), "load": os.getloadavg()}), flush=True)
        for round_ in range(args.rounds):
            for delay, (_, base) in upstreams.items():
                for c in (1, 64):
                    calls = args.calls if c == 64 else args.calls // (4 if delay else 2)
                    order = chosen[round_ % len(chosen) :] + chosen[: round_ % len(chosen)]
                    for name in order:
                        module, make = CANDIDATES[name]
                        result = await measure(name, module, make, base, calls, c)
                        result.update(
                            round=round_, upstream_delay_ms=delay, load=os.getloadavg()[0]
                        )
                        results.append(result)
                        print(json.dumps(result), flush=True)
    finally:
        for process, _ in upstreams.values():
            process.terminate()
            process.wait(10)
    print("CLIENTS_TABLE")
    print(table(results, chosen))


def table(results: list[dict[str, Any]], chosen: list[str]) -> str:
    lines = [
        "| client | upstream | c | CPU µs/call | wall µs/call | calls/s | CPU vs httpx |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def med(name: str, delay: int, c: int, key: str) -> float:
        return statistics.median(
            r[key]
            for r in results
            if (r["client"], r["concurrency"], r["upstream_delay_ms"]) == (name, c, delay)
        )

    for delay in (0, 10):
        for c in (1, 64):
            base = med("httpx", delay, c, "cpu_us_per_call") if "httpx" in chosen else math.nan
            for name in chosen:
                cpu = med(name, delay, c, "cpu_us_per_call")
                lines.append(
                    f"| {name} | {'at once' if delay == 0 else '10 ms'} | {c} | {cpu:.0f} | "
                    f"{med(name, delay, c, 'wall_us_per_call'):.0f} | "
                    f"{med(name, delay, c, 'calls_per_s'):.0f} | {cpu / base:.2f} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000, help="calls per run at c=64")
    parser.add_argument("--clients", default=",".join(CANDIDATES))
    uvloop.run(main(parser.parse_args()))
