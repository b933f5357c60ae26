"""A deliberately simple runtime-interpreted reference: one generic endpoint walks the definition.

Representative of engines that interpret a saved workflow at run time. At start-up it loads one
definition (``BENCH_DEFINITION``: the workflow YAML, converted to JSON by ``http-bench.mjs`` with
the repository's ``yaml`` package, because the runtime's environment has no YAML parser; parsing
happens once either way). Per request it:

1. parses the body with orjson and checks it against the definition's ``input`` schema
   generically (type, required, minLength, defaults, no extra properties), as a dict;
2. walks ``nodes`` in order (this definition needs nothing smarter; a real engine would also
   order by dependencies) and, for a ``transform`` node, renders every ``set`` value;
3. renders ``output`` the same way and writes it with orjson.

Rendering finds ``{{ ... }}`` with a regular expression on every request, resolves the dotted path
by walking dicts, and applies the filters ``upper lower trim length json default(x)``. A string
that is exactly one ``{{ }}`` keeps the value's type. There is no ``eval``, no caching of parsed
templates, and no execution context or Server-Timing header.

    BENCH_DEFINITION=hello.json python -m catalyst_runtime.serve interpreted_app:app
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
FILTER = re.compile(r"^(\w+)(?:\((.*)\))?$")
_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


class BadInput(Exception):
    pass


def validate(schema: dict[str, Any], value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput("body must be an object")
    properties: dict[str, Any] = schema.get("properties", {})
    for key in value:
        if key not in properties:
            raise BadInput(f"unknown property {key}")
    for key in schema.get("required", []):
        if key not in value:
            raise BadInput(f"missing {key}")
    out = dict(value)
    for key, prop in properties.items():
        if key not in out:
            if "default" in prop:
                out[key] = prop["default"]
            continue
        item = out[key]
        kind = prop.get("type")
        if kind is not None:
            if isinstance(item, bool) and kind in ("integer", "number"):
                raise BadInput(f"{key} must be {kind}")
            if not isinstance(item, _TYPES[kind]):
                raise BadInput(f"{key} must be {kind}")
        if "minLength" in prop and len(item) < prop["minLength"]:
            raise BadInput(f"{key} is too short")
    return out


def literal(text: str) -> Any:
    return orjson.loads(text.replace("'", '"'))


def apply_filter(value: Any, spec: str) -> Any:
    match = FILTER.match(spec.strip())
    if match is None:
        raise ValueError(f"bad filter {spec!r}")
    name, arg = match.groups()
    if name == "upper":
        return str(value).upper()
    if name == "lower":
        return str(value).lower()
    if name == "trim":
        return str(value).strip()
    if name == "length":
        return len(value)
    if name == "json":
        return orjson.dumps(value).decode()
    if name == "default":
        return literal(arg) if value is None else value
    raise ValueError(f"unknown filter {name!r}")


def evaluate(expression: str, scope: dict[str, Any]) -> Any:
    path, *filters = expression.split("|")
    value: Any = scope
    for part in path.strip().split("."):
        value = value.get(part) if isinstance(value, dict) else None
    for spec in filters:
        value = apply_filter(value, spec)
    return value


def render(template: Any, scope: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {key: render(item, scope) for key, item in template.items()}
    if isinstance(template, list):
        return [render(item, scope) for item in template]
    if not isinstance(template, str):
        return template
    whole = TEMPLATE.fullmatch(template)
    if whole is not None:
        return evaluate(whole.group(1), scope)
    return TEMPLATE.sub(lambda m: str(evaluate(m.group(1), scope)), template)


def load(path: str) -> dict[str, Any]:
    return orjson.loads(Path(path).read_bytes())


DEFINITION = load(os.environ["BENCH_DEFINITION"])


async def run_workflow(request: Request) -> Response:
    definition = DEFINITION
    try:
        data = validate(definition.get("input", {}), orjson.loads(await request.body()))
    except (BadInput, orjson.JSONDecodeError) as exc:
        return Response(orjson.dumps({"detail": str(exc)}), 422, media_type="application/json")
    scope: dict[str, Any] = {"input": data, "nodes": {}}
    for node in definition["nodes"]:
        if node["type"] == "transform":
            scope["nodes"][node["id"]] = render(node["set"], scope)
        else:
            raise NotImplementedError(node["type"])
    return Response(
        orjson.dumps(render(definition["output"], scope)), media_type="application/json"
    )


# Same framework as the other two (FastAPI), so only the per-request work differs.
app = FastAPI(title=f"{DEFINITION['id']} (interpreted)")
_trigger = DEFINITION.get("trigger", {})
app.add_api_route(
    _trigger.get("path", f"/{DEFINITION['id']}"),
    run_workflow,
    methods=[_trigger.get("method", "POST")],
)
