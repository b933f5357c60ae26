"""The compiler's golden Python must lint clean, import, and (where a case says so) answer requests.

Run inside the runtime project's environment, where catalyst_runtime, fastapi and ruff exist
(from the repository root):

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime \
        pytest packages/catalyst-plugin/testdata

For every ``testdata/<case>/expected/`` folder: ``ruff check`` passes, ``ruff format`` would change
nothing, no file contains ``eval(``, ``exec(`` or ``compile(``, and the folder imports as the
package ``<case>_pkg._generated``. A case may add ``requests.json``: a list of calls
``{"method", "path", "body" (or "raw", the body as text), "status", "response", "loc", "env",
"globals"}`` made against
``create_app(router, globals=...)``; ``response`` is compared exactly; a 422 without ``response``
must give ``loc``, the ``loc`` of each error its ``detail`` lists (so it names the field, not
only the status); ``env`` holds environment
variables (secrets) set for that call; every call's ``env`` is set before the app starts, since
start-up checks the secrets and variables the workflows require. ``globals`` are service-wide
too: those of every call, merged, are what the app is created with.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTDATA = Path(__file__).resolve().parent
CASES = sorted(p.parent.name for p in TESTDATA.glob("*/expected") if p.is_dir())
# Stricter than ruff's defaults, without style rules (SIM, RUF) that would judge the user's own
# expressions, which the compiler reproduces faithfully.
RUFF_RULES = "E,F,W,I,B,UP,ASYNC"
FORBIDDEN = re.compile(r"\b(eval|exec|compile)\(")


def package_name(case: str) -> str:
    return re.sub(r"\W", "_", case) + "_pkg"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("golden")
    for case in CASES:
        pkg = root / package_name(case)
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        shutil.copytree(TESTDATA / case / "expected", pkg / "_generated")
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    # Run from an empty folder: with --isolated, ruff takes the working directory as the project
    # root, and a folder there named like an import (runtime/src holds catalyst_runtime) would
    # turn that import first-party and re-sort the generated imports (I001). The paths given are
    # absolute, so the result does not depend on where pytest was started.
    command = [sys.executable, "-m", "ruff", *args]
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd=empty)


@pytest.mark.parametrize("case", CASES)
def test_ruff_check_passes(case: str) -> None:
    expected = str(TESTDATA / case / "expected")
    # --isolated: these rules, whatever configuration a parent folder holds. Long expressions
    # stay on one line, as `ruff format` leaves them: E501 is ignored.
    result = _ruff(
        "check", "--isolated", "--no-cache", "--target-version", "py311",
        "--select", RUFF_RULES, "--ignore", "E501", expected,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_check_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Started from a folder holding a package named like a runtime import (as runtime/src does),
    # the check must still judge the generated imports as third-party.
    (tmp_path / "catalyst_runtime").mkdir()
    (tmp_path / "catalyst_runtime" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    test_ruff_check_passes("hello")


@pytest.mark.parametrize("case", CASES)
def test_ruff_format_leaves_it_unchanged(case: str) -> None:
    expected = str(TESTDATA / case / "expected")
    result = _ruff("format", "--isolated", "--no-cache", "--check", "--diff", expected)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", CASES)
def test_no_dynamic_code(case: str) -> None:
    for path in sorted((TESTDATA / case / "expected").glob("*.py")):
        assert not FORBIDDEN.search(path.read_text()), f"{path} calls eval/exec/compile"


@pytest.mark.parametrize("case", CASES)
def test_imports(case: str, packages: Path) -> None:
    generated = importlib.import_module(f"{package_name(case)}._generated")
    assert generated.router is not None
    for path in sorted((TESTDATA / case / "expected").glob("*.py")):
        if path.stem != "__init__":
            module = importlib.import_module(
                f"{package_name(case)}._generated.{path.stem}"
            )
            assert callable(module.run)


REQUEST_CASES = sorted(p.parent.name for p in TESTDATA.glob("*/requests.json"))


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_requests(case: str, packages: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generated = importlib.import_module(f"{package_name(case)}._generated")
    calls: list[dict[str, Any]] = json.loads(
        (TESTDATA / case / "requests.json").read_text()
    )
    asyncio.run(_call_all(generated.router, case, calls, monkeypatch))


async def _call_all(
    router: Any, case: str, calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx
    from catalyst_runtime import create_app

    globals_: dict[str, Any] = {}
    for call in calls:
        globals_.update(call.get("globals", {}))
    app = create_app(router, title=case, globals=globals_)
    transport = httpx.ASGITransport(app=app)
    for call in calls:
        for name, value in call.get("env", {}).items():
            monkeypatch.setenv(name, value)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://golden") as client,
    ):
        for call in calls:
            if "raw" in call:  # a body JSON cannot hold (NaN, Infinity), sent as it is
                response = await client.request(
                    call.get("method", "POST"),
                    call["path"],
                    content=call["raw"].encode(),
                    headers={"content-type": "application/json"},
                )
            else:
                response = await client.request(
                    call.get("method", "POST"), call["path"], json=call.get("body")
                )
            assert response.status_code == call.get("status", 200), response.text
            if "response" in call:
                assert response.json() == call["response"], call
            elif response.status_code == 422:
                # A 422 must say which field was wrong, not only that something was: a call
                # gives either the whole response or the loc of each error it lists.
                assert "loc" in call, f"give the 422's response or loc: {call}"
                locs = [error["loc"] for error in response.json()["detail"]]
                assert locs == call["loc"], (call, response.text)
            if response.status_code == 200:
                assert "total;dur=" in response.headers["server-timing"]


@pytest.mark.parametrize(
    ("case", "required"),
    [("secrets_and_globals", "MAIL_TOKEN"), ("env_vars", "CATALYST_REGION")],
)
def test_missing_required_variable_stops_start_up(
    case: str,
    required: str,
    packages: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A variable read without a fallback fails start-up by name; the optional ones do not."""
    from catalyst_runtime import ConfigError, create_app

    generated = importlib.import_module(f"{package_name(case)}._generated")
    monkeypatch.chdir(tmp_path)  # no .env to fill it in
    for name in (required, "MAIL_SENDER", "CATALYST_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)

    async def start() -> None:
        app = create_app(generated.router, title=case)
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(ConfigError) as caught:
        asyncio.run(start())
    assert str(caught.value).startswith(
        f"{required}: required by this service's workflows"
    )
    monkeypatch.setenv(required, "set")
    asyncio.run(start())  # the optional ones (under default) may stay unset
