"""In-process cost of one workflow run: the generated ``run(ctx)`` and its bookkeeping only.

For each golden case named on the command line, its ``expected/`` modules are imported as a
package, the first request of its ``requests.json`` is validated once, and then, on uvloop,
what the generated route does once the input is validated is timed in a loop:
``json_response(await run(ctx), ctx)`` on a new ``ExecutionContext``. No ASGI, no HTTP: this
isolates what the shape of generated code costs (node bookkeeping, how values travel between
nodes, the response), which the HTTP figures bury under framework and socket time.

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \\
        python tools/bench/run_cost.py [--testdata DIR] [--loops N] [--rounds N] CASE...

Prints one JSON object: case → the fastest and the median µs per run over the rounds (the
fastest is the steadier figure on a shared machine: noise only ever adds time). To compare two commits, run
it in a checkout of each with the same Python, alternating (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

from catalyst_runtime import ExecutionContext, json_response

TESTDATA = Path(__file__).resolve().parents[2] / "packages" / "catalyst-plugin" / "testdata"


def load(case: str, testdata: Path, root: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The case's first workflow module, its input model and the first request's body."""
    package = root / f"{case}_pkg"
    shutil.copytree(testdata / case / "expected", package / "_generated")
    (package / "__init__.py").write_text("")
    requests = json.loads((testdata / case / "requests.json").read_text())
    first = requests[0]
    module_name = first["path"].strip("/").split("/")[0]
    module = importlib.import_module(f"{case}_pkg._generated.{module_name}")
    model = next(
        v for k, v in vars(module).items() if k.endswith("Input") and isinstance(v, type)
    )
    return module, model, first.get("body", {})


async def time_runs(module: Any, inp: Any, loops: int) -> float:
    run = module.run
    workflow_id = module.WORKFLOW_ID
    started = time.perf_counter_ns()
    for _ in range(loops):
        ctx = ExecutionContext(workflow_id, inp)
        json_response(await run(ctx), ctx)
    return (time.perf_counter_ns() - started) / loops / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cases", nargs="+")
    parser.add_argument("--testdata", type=Path, default=TESTDATA)
    parser.add_argument("--loops", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="run-cost-"))
    sys.path.insert(0, str(root))
    try:
        loaded = {case: load(case, args.testdata, root) for case in args.cases}
        inputs = {case: model.model_validate(body) for case, (_, model, body) in loaded.items()}
        samples: dict[str, list[float]] = {case: [] for case in args.cases}
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            for _ in range(args.rounds):
                for case, (module, _, _) in loaded.items():
                    samples[case].append(
                        runner.run(time_runs(module, inputs[case], args.loops))
                    )
        summary = {
            case: {"min": round(min(s), 3), "median": round(statistics.median(s), 3)}
            for case, s in samples.items()
        }
        print(json.dumps(summary))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
