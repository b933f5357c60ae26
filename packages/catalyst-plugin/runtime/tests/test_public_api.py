"""The public surface is ``catalyst_runtime.__all__``, and generated code imports nothing else.

The names are read from the package, never retyped here, so exporting a new name needs no edit
of this file: what is checked is that ``__all__`` is sorted and names exactly the public names the
package defines, that each comes from a runtime module that exports it, and that the compiler's
golden output (``testdata/*/expected``) uses no runtime name outside ``__all__``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import catalyst_runtime

# The compiler's golden cases, beside the runtime in the plugin package.
TESTDATA = Path(__file__).resolve().parents[2] / "testdata"
RUNTIME = "catalyst_runtime"


def runtime_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{RUNTIME}.{info.name}")
        for info in pkgutil.iter_modules(catalyst_runtime.__path__)
    ]


def test_all_is_sorted_without_duplicates() -> None:
    names = catalyst_runtime.__all__
    assert names == sorted(set(names))


def test_all_names_exactly_the_public_names_defined() -> None:
    # Submodules become attributes of the package when imported; they are not exports.
    defined = {
        name
        for name, value in vars(catalyst_runtime).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(catalyst_runtime.__all__) == defined


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec(f"from {RUNTIME} import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == catalyst_runtime.__all__


def test_every_name_comes_from_a_module_that_exports_it() -> None:
    modules = runtime_modules()
    for name in catalyst_runtime.__all__:
        value = getattr(catalyst_runtime, name)
        homes = [m.__name__ for m in modules if name in m.__all__ and getattr(m, name) is value]
        assert homes, f"{name} is in {RUNTIME}.__all__ but in no runtime module's __all__"


def runtime_names_used(tree: ast.AST) -> set[str]:
    """The runtime names a module uses; a submodule's name is dotted (``context.NodeScope``)."""
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            if node.module == RUNTIME:
                used.update(alias.name for alias in node.names)
            elif node.module.startswith(f"{RUNTIME}."):
                prefix = node.module.removeprefix(f"{RUNTIME}.")
                used.update(f"{prefix}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            used.update(
                alias.name.removeprefix(f"{RUNTIME}.")
                for alias in node.names
                if alias.name.startswith(f"{RUNTIME}.")
            )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == RUNTIME
        ):
            used.add(node.attr)
    return used


def test_generated_code_uses_only_names_in_all() -> None:
    files = sorted(TESTDATA.glob("*/expected/**/*.py"))
    assert files, f"no golden Python under {TESTDATA}"
    public = set(catalyst_runtime.__all__)
    outside: dict[str, list[str]] = {}
    used_anywhere: set[str] = set()
    for file in files:
        used = runtime_names_used(ast.parse(file.read_text(encoding="utf-8"), str(file)))
        used_anywhere |= used
        for name in sorted(used - public):
            outside.setdefault(name, []).append(str(file.relative_to(TESTDATA)))
    assert used_anywhere, "the golden Python imports nothing from the runtime"
    assert outside == {}


def test_every_module_declares_a_sorted_all() -> None:
    for module in runtime_modules():
        names = module.__all__
        assert names == sorted(names), module.__name__
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_importing_the_runtime_loads_no_driver() -> None:
    code = (
        "import sys, catalyst_runtime, catalyst_runtime.pools, catalyst_runtime.errors;"
        "drivers = ('asyncpg', 'redis', 'qdrant_client', 'httpx', 'aiohttp');"
        "print(sorted(m for m in drivers if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
