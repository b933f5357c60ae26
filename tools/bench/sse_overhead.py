"""What a streamed workflow adds to an LLM's tokens on their way to the client.

The ``stream_llm`` golden (a streaming workflow whose Anthropic ``llm`` node has
``stream: true``) is served by ``python -m catalyst_runtime.serve`` (uvicorn, uvloop,
httptools, the compiled request path), its SDK pointed at a loopback provider in a process of
its own (``catalyst_runtime.testing_providers``) that sends its first token 100 ms after the
request and then one every 10 ms, noting the wall-clock time it wrote each. A client in this
process reads the same answer two ways, in interleaved rounds (the order alternating):

- **direct**: the provider's own event stream, as the SDK would read it;
- **through the service**: ``POST /ask``, the ``token`` events.

Time to first token is from sending the request to reading the first token; the service's
figure minus the direct one is what the service adds (reading and validating the request, the
SDK's request to the provider, the event on its way out). The per-token delay is the time from
the provider writing a token to the client reading it; the service's minus the direct one is
what forwarding adds per token. Both are medians over every round (p90 beside them). Timings are
wall time, so they move with the machine's load: the load is printed with them.

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \\
        python tools/bench/sse_overhead.py [--rounds 30] [--tokens 50]

Not a test: nothing here asserts, it prints one JSON line per round and a Markdown summary
(``--json FILE``: the figures too, for ``npm run bench``'s scenario D).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages" / "catalyst-plugin" / "testdata" / "stream_llm" / "expected"
FIRST_DELAY = 0.1
DELAY = 0.01


def serve_provider(port: int, tokens: int) -> None:
    """The child process: the loopback provider, noting when it wrote each token."""
    import uvicorn
    from catalyst_runtime.testing_providers import ProviderScript, ProviderServer
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    class TimedProvider(ProviderServer):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self.app.router.routes.append(Route("/times", self.last_times))

        async def _tokens(self, pieces: list[str]) -> Any:
            self.times = []
            async for index, piece in super()._tokens(pieces):
                self.times.append(time.time())  # the chunk is written right after this
                yield index, piece

        async def last_times(self, request: Request) -> Response:
            return Response(orjson.dumps(self.times), media_type="application/json")

    provider = TimedProvider()
    provider.script = ProviderScript(
        tokens=[f"t{i} " for i in range(tokens)], first_delay=FIRST_DELAY, delay=DELAY
    )
    uvicorn.run(
        provider.app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        log_level="warning", lifespan="off",
    )  # fmt: skip


@contextmanager
def provider_process(tokens: int) -> Iterator[str]:
    from catalyst_runtime.testing import free_port

    port = free_port()
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve-provider",
            str(port),
            "--tokens",
            str(tokens),
        ]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/times")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("the provider did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        child.wait(10)


@contextmanager
def service(provider: str) -> Iterator[str]:
    from catalyst_runtime.testing import running_server

    with tempfile.TemporaryDirectory() as scratch:
        package = Path(scratch) / "sse_bench"
        package.mkdir()
        (package / "__init__.py").write_text("")
        shutil.copytree(GOLDEN, package / "_generated")
        (package / "main.py").write_text(
            "from catalyst_runtime import create_app\n\n"
            "from sse_bench._generated import router\n\n"
            'app = create_app(router, title="sse-bench")\n'
        )
        env = {"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": provider}
        with running_server(
            "sse_bench.main:app", cwd=scratch, env=env, startup_timeout=120
        ) as url:
            yield url


def server_cpu_seconds() -> float:
    """User and system CPU time of the service's process so far (found by its app path)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"sse_bench.main:app" not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        return (int(fields[11]) + int(fields[12])) / ticks
    raise RuntimeError("the service's process was not found")


def direct(client: httpx.Client, provider: str) -> tuple[float, list[float]]:
    """The provider's stream read directly: (request sent, when each token was read)."""
    body = {
        "model": "claude-sonnet-4-5", "max_tokens": 256, "stream": True,
        "messages": [{"role": "user", "content": "Count"}],
    }  # fmt: skip
    read: list[float] = []
    started = time.time()
    with client.stream("POST", f"{provider}/v1/messages", json=body) as answer:
        for line in answer.iter_lines():
            if line == "event: content_block_delta":
                read.append(time.time())
    return started, read


def through_service(client: httpx.Client, url: str) -> tuple[float, list[float]]:
    read: list[float] = []
    started = time.time()
    with client.stream("POST", f"{url}/ask", json={"question": "Count"}) as answer:
        for line in answer.iter_lines():
            if line == "event: token":
                read.append(time.time())
    return started, read


def measure(rounds: int, tokens: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {
        "direct_ttft": [], "service_ttft": [], "direct_token": [], "service_token": [],
    }  # fmt: skip
    with (
        provider_process(tokens) as provider,
        service(provider) as url,
        httpx.Client(timeout=30) as client,
    ):
        ways = {
            "direct": lambda: direct(client, provider),
            "service": lambda: through_service(client, url),
        }
        for way in ways.values():  # warm: connections, the SDK's first request
            way()
        # The service's CPU while idle, per second, to take out of the figure per request.
        idle_before, idle_started = server_cpu_seconds(), time.monotonic()
        time.sleep(5)
        idle_rate = (server_cpu_seconds() - idle_before) / (
            time.monotonic() - idle_started
        )
        cpu_before, rounds_started = server_cpu_seconds(), time.monotonic()
        for index in range(rounds):
            order = ["direct", "service"] if index % 2 == 0 else ["service", "direct"]
            line: dict[str, Any] = {"round": index}
            for name in order:
                started, read = ways[name]()
                written = httpx.get(f"{provider}/times").json()
                assert len(read) == len(written) == tokens, (
                    name,
                    len(read),
                    len(written),
                )
                ttft = (read[0] - started) * 1000
                delays = [(r - w) * 1000 for r, w in zip(read, written, strict=True)]
                figures[f"{name}_ttft"].append(ttft)
                figures[f"{name}_token"].extend(delays)
                line[name] = {
                    "ttft_ms": round(ttft, 3),
                    "token_ms": round(statistics.median(delays), 3),
                }
            print(json.dumps(line), flush=True)
        busy = (
            server_cpu_seconds()
            - cpu_before
            - idle_rate * (time.monotonic() - rounds_started)
        )
        figures["service_cpu_ms"] = [busy * 1000 / rounds]
        figures["idle_cpu_ms_per_s"] = [idle_rate * 1000]
    return figures


def channel_share(tokens: int = 5000) -> float:
    """The runtime's own share of a token's trip, in process under uvloop: microseconds from a
    node's ``ctx.events.token(...)`` to the formatted bytes in the response's hands (median)."""
    import asyncio

    import uvloop
    from catalyst_runtime import EventChannel, ExecutionContext

    async def measure_channel() -> float:
        made: list[int] = []

        async def run(ctx: ExecutionContext) -> dict[str, Any]:
            events = ctx.events
            assert events is not None
            for _ in range(tokens):
                made.append(time.perf_counter_ns())
                events.token("reply", "tok ")
                await asyncio.sleep(
                    0
                )  # as a provider's next chunk would: the loop runs on
            return {}

        delays: list[int] = []
        async for _chunk in EventChannel().run(run, ExecutionContext("bench", None)):
            if len(delays) < len(made):
                delays.append(time.perf_counter_ns() - made[len(delays)])
        return statistics.median(delays) / 1000

    return uvloop.run(measure_channel())


def response_share(tokens: int = 5000) -> float:
    """CPU microseconds per token for the whole event path in process under uvloop: a node's
    ``token(...)``, the channel, ``stream_run``'s response (Starlette's streaming, the
    disconnect watch) down to an ASGI ``send`` that does nothing (no socket)."""
    import asyncio

    import uvloop
    from catalyst_runtime import ExecutionContext, stream_run

    async def measure_response() -> float:
        async def run(ctx: ExecutionContext) -> dict[str, Any]:
            events = ctx.events
            assert events is not None
            for _ in range(tokens):
                events.token("reply", "tok ")
                await asyncio.sleep(0)
            return {}

        never = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await never.wait()
            return {"type": "http.disconnect"}  # pragma: no cover

        async def send(message: dict[str, Any]) -> None:
            return None

        scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
        started = time.process_time()
        await stream_run(run, ExecutionContext("bench", None))(scope, receive, send)
        return (time.process_time() - started) * 1e6 / tokens

    return uvloop.run(measure_response())


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument(
        "--json", type=Path, help="also write the figures there (npm run bench's scenario D)"
    )
    parser.add_argument("--serve-provider", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_provider:
        serve_provider(args.serve_provider, args.tokens)
        return
    load = os.getloadavg()
    figures = measure(args.rounds, args.tokens)
    med = {name: statistics.median(values) for name, values in figures.items()}
    print(f"\nload average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cpus: {os.cpu_count()}")  # fmt: skip
    print(f"{args.rounds} rounds, {args.tokens} tokens each; first token at "
          f"{FIRST_DELAY * 1000:.0f} ms, then one per {DELAY * 1000:.0f} ms\n")  # fmt: skip
    print("| figure (ms) | direct | through the service | added |")
    print("|---|---|---|---|")
    for what, key in (
        ("time to first token, median", "ttft"),
        ("per-token delay, median", "token"),
    ):
        d, s = med[f"direct_{key}"], med[f"service_{key}"]
        print(f"| {what} | {d:.2f} | {s:.2f} | {s - d:.2f} |")
    for what, key in (
        ("time to first token, p90", "ttft"),
        ("per-token delay, p90", "token"),
    ):
        d, s = p90(figures[f"direct_{key}"]), p90(figures[f"service_{key}"])
        print(f"| {what} | {d:.2f} | {s:.2f} | {s - d:.2f} |")
    if args.json is not None:
        summary: dict[str, Any] = {
            "rounds": args.rounds,
            "tokens": args.tokens,
            "first_delay_ms": FIRST_DELAY * 1000,
            "delay_ms": DELAY * 1000,
            "load_before": load,
            "median": med,
            "p90": {k: p90(figures[k]) for k in figures if len(figures[k]) > 1},
        }
        args.json.write_text(json.dumps(summary))
    print(f"\nthe service's CPU time per streamed request: {med['service_cpu_ms']:.1f} ms "
          f"(idle CPU taken out: {med['idle_cpu_ms_per_s']:.1f} ms a second)")  # fmt: skip
    print(f"runtime's share in process (token() to the response's hands), median: "
          f"{channel_share():.1f} µs")  # fmt: skip
    print(f"the whole event path in process (token() to an ASGI send), CPU per token: "
          f"{response_share():.1f} µs")  # fmt: skip


if __name__ == "__main__":
    main()
