"""Scenario A's apps looked into: py-spy profiles under load, and their CPU in process.
The side-by-side HTTP measurement is ``npm run bench`` (tools/bench/scenarios/a-transform.mjs).

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \\
        python tools/bench/compiled_path.py --profile compiled --duration 10   # needs py-spy
    ... python tools/bench/compiled_path.py --in-process    # no sockets: the apps' own CPU
    ... python tools/bench/compiled_path.py --http --tree before=/tmp/before --tree after=.
    ... python tools/bench/compiled_path.py --in-process --tree before=/tmp/before --tree after=.

``--profile NAME`` serves one contender (``tools/bench/http/card_apps.py``) under ``python -m
catalyst_runtime.serve`` pinned to CPU 0 with ``taskset``, loads it with wrk pinned to CPU 1 at
64 connections and records it with py-spy. ``--in-process`` calls each app as an ASGI callable
(see ``in_process``). ``--http`` compares trees (a checkout, or ``git archive`` of a commit,
unpacked): each tree's runtime and its golden ``transform_chain`` served as ``compiled@NAME``, and
the floor under the same tree's ``serve`` as ``bare@NAME``, over HTTP at 64 connections (see
``http_rounds``); with ``--tree``, ``--in-process`` does the same for the apps' own CPU
(``in_process_trees``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HTTP = ROOT / "tools" / "bench" / "http"
CASE = ROOT / "packages" / "catalyst-plugin" / "testdata" / "transform_chain" / "expected"
BODY = json.dumps({"name": " Ada Lovelace ", "city": "london", "visits": 12})
CONTENDERS: dict[str, tuple[str, dict[str, str]]] = {
    "compiled": ("card_apps:generated", {}),
    "fastapi-routed": ("card_apps:generated", {"CATALYST_COMPILED_ROUTES": "off"}),
    "hand-written": ("card_apps:handwritten", {}),
    "bare": ("card_apps:bare", {}),
}


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def start(name: str, port: int, pythonpath: str) -> subprocess.Popen[bytes]:
    app, extra = CONTENDERS[name]
    env = {**os.environ, "PYTHONPATH": pythonpath, "CATALYST_LOG_FORMAT": "text", **extra}
    command = [
        *pinned(0), sys.executable, "-m", "catalyst_runtime.serve", app,
        "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)  # noqa: S603 - our own interpreter
    deadline = time.monotonic() + 120
    while True:
        try:
            answer(port)
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start") from None
            time.sleep(0.2)


def answer(port: int) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"http://127.0.0.1:{port}/card",
        BODY.encode(),
        {"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status, response.read()


def wrk(port: int, connections: int, seconds: float) -> dict[str, Any]:
    command = [
        *pinned(1), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "-s", str(ROOT / "tools" / "bench" / "lib" / "wrk.lua"), f"http://127.0.0.1:{port}/card",
    ]  # fmt: skip
    out = subprocess.run(  # noqa: S603
        command, env={**os.environ, "BENCH_BODY": BODY}, capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH_RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
    return result


def profile(process: subprocess.Popen[bytes], port: int, seconds: float, out: Path) -> None:
    """py-spy's collapsed stacks of the server under wrk at 64 connections, then the top
    functions by inclusive and by own share of the samples."""
    spy = shutil.which("py-spy") or str(Path.home() / ".local" / "bin" / "py-spy")
    wrk(port, 64, 1)
    recorder = subprocess.Popen(  # noqa: S603
        [spy, "record", "--format", "raw", "--rate", "250", "--nonblocking",
         "-d", str(int(seconds)), "-o", str(out), "-p", str(process.pid)],
    )  # fmt: skip
    time.sleep(0.5)
    wrk(port, 64, seconds)
    recorder.wait()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [re.sub(r" \((.*/)?([^/]+):\d+\)$", r" (\2)", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"\n{total} samples; top 45 inclusive, then top 20 own:")
    for frame, n in inclusive.most_common(45):
        print(f"{100 * n / total:5.1f} %  {frame}")
    print()
    for frame, n in own.most_common(20):
        print(f"{100 * n / total:5.1f} %  {frame}")


def server_cpu_ns(pid: int) -> int:
    """Time on a CPU of every thread of ``pid`` (schedstat, nanoseconds), as npm run bench."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def http_rounds(trees: dict[str, Path], rounds: int, seconds: float, connections: int) -> None:
    """Every tree's compiled service and floor at ``connections``: 1 s of warm-up then
    ``seconds`` measured per run, the servers rotated each round; server CPU per request from
    schedstat, and each compiled service's CPU over its own tree's floor paired per round."""
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    cleanup: list[Path] = []
    port = 18710
    try:
        for name, tree in trees.items():
            work = Path(tempfile.mkdtemp(prefix="compiled-path-"))
            cleanup.append(work)
            (work / "bench_card").mkdir()
            (work / "bench_card" / "__init__.py").write_text("")
            case = tree / CASE.relative_to(ROOT)
            shutil.copytree(case, work / "bench_card" / "_generated")
            runtime = tree / "packages" / "catalyst-plugin" / "runtime" / "src"
            pythonpath = os.pathsep.join([str(runtime), str(work), str(HTTP)])
            for app in ("compiled", "bare"):
                servers[f"{app}@{name}"] = (start(app, port, pythonpath), port)
                port += 1
        for label, (_, p) in servers.items():
            print(f"{label}: {answer(p)[1].decode()}", flush=True)
        cpu: dict[str, list[float]] = collections.defaultdict(list)
        rps: dict[str, list[float]] = collections.defaultdict(list)
        total: collections.Counter[str] = collections.Counter()
        labels = list(servers)
        for r in range(rounds):
            order = labels[r % len(labels) :] + labels[: r % len(labels)]
            for label in order:
                process, p = servers[label]
                before = server_cpu_ns(process.pid)
                total[label] += wrk(p, connections, 1)["requests"]
                result = wrk(p, connections, seconds)
                total[label] += result["requests"]
                spent = server_cpu_ns(process.pid) - before
                cpu[label].append(spent / result["requests"] / 1000)
                rps[label].append(result["requests"] / (result["duration_us"] / 1e6))
            print(
                f"round {r + 1} (load {os.getloadavg()[0]:.1f}): "
                + ", ".join(f"{x} {cpu[x][-1]:.1f} µs" for x in labels),
                flush=True,
            )
        med = statistics.median
        print("\n| contender | req/s | server CPU µs/req | ÷ its floor (paired) |")
        print("|---|--:|--:|--:|")
        for label in labels:
            app, _, name = label.partition("@")
            floor = cpu[f"bare@{name}"]
            paired = med(a / b for a, b in zip(cpu[label], floor, strict=True))
            print(f"| {label} | {med(rps[label]):.0f} | {med(cpu[label]):.1f} | {paired:.2f}× |")  # noqa: RUF001
        print("requests per server, warm-ups included:", dict(total))
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
        for work in cleanup:
            shutil.rmtree(work, ignore_errors=True)


def in_process_trees(trees: dict[str, Path], repeats: int) -> None:
    """``in_process`` of ``compiled`` and ``bare`` for each tree (its runtime first on
    ``PYTHONPATH``, its golden ``transform_chain``), a process per tree and repeat, the trees
    alternated: the fastest and the median over the repeats, and each tree's compiled app over
    the first tree's, paired per repeat."""
    best: dict[str, list[dict[str, float]]] = collections.defaultdict(list)
    for r in range(repeats):
        for name, tree in trees.items():
            runtime = tree / "packages" / "catalyst-plugin" / "runtime" / "src"
            env = {**os.environ, "PYTHONPATH": str(runtime)}
            command = [sys.executable, __file__, "--in-process", "--only", "compiled,bare"]
            case = ["--case", str(tree / CASE.relative_to(ROOT)), "--json"]
            out = subprocess.run(  # noqa: S603 - our own interpreter and script
                [*command, *case], env=env, capture_output=True, text=True, check=True
            ).stdout
            best[name].append(json.loads(out.splitlines()[-1]))
        print(f"repeat {r + 1} (load {os.getloadavg()[0]:.1f}): ", end="")
        print(", ".join(f"{n} {best[n][-1]['compiled']:.2f} µs" for n in trees), flush=True)
    first = next(iter(trees))
    med = statistics.median
    print("\n| tree | compiled: fastest, median µs | bare: fastest, median µs | ÷ first (paired) |")
    print("|---|--:|--:|--:|")
    for name in trees:
        c = [b["compiled"] for b in best[name]]
        f = [b["bare"] for b in best[name]]
        ratio = med(
            x["compiled"] / y["compiled"] for x, y in zip(best[name], best[first], strict=True)
        )
        print(f"| {name} | {min(c):.2f}, {med(c):.2f} | {min(f):.2f}, {med(f):.2f} | {ratio:.3f} |")


def in_process(
    names: list[str], loops: int = 5000, rounds: int = 7, *, as_json: bool = False
) -> None:
    """Each app called as an ASGI callable on uvloop with a ready-made request (no sockets,
    no uvicorn): CPU time per request (``time.process_time_ns``), the fastest of ``rounds``
    rounds of ``loops`` requests, the apps rotated per round. What the app itself costs, which
    a loaded machine disturbs far less than the HTTP runs."""
    import contextlib

    import uvloop

    os.environ.pop("CATALYST_COMPILED_ROUTES", None)
    import card_apps

    body = BODY.encode()
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"wrk"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    message = {"type": "http.request", "body": body, "more_body": False}

    def scope() -> dict[str, Any]:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/card", "raw_path": b"/card",
            "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return message

    async def send(message: dict[str, Any]) -> None:
        pass

    from catalyst_runtime import Settings, create_app

    apps = {
        "compiled": card_apps.generated,
        "fastapi-routed": create_app(
            card_apps._router, title="off", settings=Settings(compiled_routes=False)
        ),
        "hand-written": card_apps.handwritten,
        "bare": card_apps.bare,
    }

    async def run() -> None:
        best = dict.fromkeys(names, float("inf"))
        async with contextlib.AsyncExitStack() as stack:
            for name in names:
                app = apps[name]
                if hasattr(app, "router"):
                    await stack.enter_async_context(app.router.lifespan_context(app))
                for _ in range(1000):
                    await app(scope(), receive, send)
            for r in range(rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    app = apps[name]
                    started = time.process_time_ns()
                    for _ in range(loops):
                        await app(scope(), receive, send)
                    spent = (time.process_time_ns() - started) / loops / 1000
                    best[name] = min(best[name], spent)
        if as_json:
            print(json.dumps(best))
            return
        print("\n| app, in process | CPU µs per request | ÷ bare |\n|---|--:|--:|")
        for name in names:
            print(f"| {name} | {best[name]:.1f} | {best[name] / best['bare']:.1f}× |")

    uvloop.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--only", default=",".join(CONTENDERS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--case", type=Path, default=CASE, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--profile", choices=list(CONTENDERS))
    mode.add_argument("--in-process", action="store_true")
    mode.add_argument("--http", action="store_true")
    args = parser.parse_args()
    if args.http:
        pairs = [t.split("=", 1) for t in args.tree] or [["this", str(ROOT)]]
        trees = {name: Path(path).resolve() for name, path in pairs}
        http_rounds(trees, args.rounds, args.duration, args.connections)
        return
    work = Path(tempfile.mkdtemp(prefix="compiled-path-"))
    (work / "bench_card").mkdir()
    (work / "bench_card" / "__init__.py").write_text("")
    shutil.copytree(args.case, work / "bench_card" / "_generated")
    pythonpath = os.pathsep.join([str(work), str(HTTP)])
    if args.in_process and args.tree:
        trees = {name: Path(path).resolve() for name, path in (t.split("=", 1) for t in args.tree)}
        in_process_trees(trees, args.rounds)
        return
    if args.in_process:
        sys.path[:0] = [str(work), str(HTTP)]
        in_process(args.only.split(","), as_json=args.json)
        shutil.rmtree(work, ignore_errors=True)
        return
    process = start(args.profile, 18700, pythonpath)
    try:
        print("answer:", answer(18700)[1].decode())
        profile(process, 18700, args.duration, work / f"{args.profile}.txt")
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
