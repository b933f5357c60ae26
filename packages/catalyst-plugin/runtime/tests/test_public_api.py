"""The public surface is pinned: generated code imports only these names."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import catalyst_runtime

PUBLIC = [
    "CatalystError",
    "ConfigError",
    "ConnectionPools",
    "ExecutionContext",
    "InMemoryRateLimiter",
    "InputValidationError",
    "LRUCache",
    "NodeError",
    "NodeTimeoutError",
    "RateLimitExceeded",
    "RateLimiter",
    "RedisCache",
    "RedisRateLimiter",
    "Settings",
    "UpstreamError",
    "WorkflowRouter",
    "cached",
    "create_app",
    "done_event",
    "error_event",
    "format_sse",
    "http_call",
    "input_body",
    "json_response",
    "node_error",
    "read_input",
    "run_concurrently",
    "stream_response",
    "to_json",
]


def test_all_is_pinned_sorted_and_complete() -> None:
    assert catalyst_runtime.__all__ == PUBLIC
    assert sorted(catalyst_runtime.__all__) == catalyst_runtime.__all__
    for name in catalyst_runtime.__all__:
        assert getattr(catalyst_runtime, name) is not None
    exported = {
        name
        for name, value in vars(catalyst_runtime).items()
        if not name.startswith("_") and not isinstance(value, type(sys))
    }
    assert exported == set(PUBLIC)


def test_every_module_declares_a_sorted_all() -> None:
    for info in pkgutil.iter_modules(catalyst_runtime.__path__):
        module = importlib.import_module(f"catalyst_runtime.{info.name}")
        names = module.__all__
        assert names == sorted(names), info.name
        for name in names:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_importing_the_runtime_loads_no_driver() -> None:
    code = (
        "import sys, catalyst_runtime, catalyst_runtime.pools, catalyst_runtime.errors;"
        "drivers = ('asyncpg', 'redis', 'qdrant_client', 'httpx');"
        "print(sorted(m for m in drivers if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
