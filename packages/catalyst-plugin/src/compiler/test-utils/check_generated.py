"""Checks generated modules for the property tests; reads cases as JSON on stdin.

For each case: Python parses and compiles the module. Optionally it also
- evaluates the `v` entry of `run`'s return value (`expected`: literal text round trip);
- prints that expression's tree fully parenthesised (`canon`: precedence check);
- evaluates it and, independently, the expression's own AST with a small reference interpreter,
  and reports both (`reference`: meaning check).
"""

import ast
import importlib.util
import json
import math
import os
import sys
import types

OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.USub: "-",
    ast.UAdd: "+", ast.Not: "not", ast.And: "and", ast.Or: "or", ast.Eq: "==", ast.NotEq: "!=",
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "==", ast.IsNot: "!=",
}  # fmt: skip


def _runtime_expressions():
    """The runtime's module of helpers compiled expressions call (standard library only), from
    its file: this process has no runtime installed."""
    path = os.environ["CATALYST_EXPRESSIONS_PY"]
    spec = importlib.util.spec_from_file_location("catalyst_expressions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HELPERS = {name: getattr(_runtime_expressions(), name) for name in ("item_at",)}

INPUT = {"s": " Ab c", "n": 7, "x": 2.5, "b": True, "tags": ["x", "y"], "meta": {"k": 1, "é": "v"}}
NODES = {"a": {"count": 3, "name": "a", "flags": [True]}}


def to_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def canon(n):
    """The tree Python reads, fully parenthesised, in the expression language's spelling."""
    if isinstance(n, ast.BinOp):
        return f"({canon(n.left)} {OPS[type(n.op)]} {canon(n.right)})"
    if isinstance(n, ast.UnaryOp):
        return f"({OPS[type(n.op)]} {canon(n.operand)})"
    if isinstance(n, ast.BoolOp):
        acc = canon(n.values[0])
        for v in n.values[1:]:
            acc = f"({acc} {OPS[type(n.op)]} {canon(v)})"
        return acc
    if isinstance(n, ast.Compare):
        return f"({canon(n.left)} {OPS[type(n.ops[0])]} {canon(n.comparators[0])})"
    if isinstance(n, ast.IfExp):
        return f"({canon(n.body)} if {canon(n.test)} else {canon(n.orelse)})"
    if isinstance(n, ast.Attribute):
        return f"{canon(n.value)}.{n.attr}"
    if isinstance(n, ast.Name):
        return {"inp": "input"}.get(n.id, n.id)
    if isinstance(n, ast.Constant):
        if n.value is None or isinstance(n.value, bool):
            return {True: "true", False: "false", None: "null"}[n.value]
        return repr(n.value)
    raise ValueError(ast.dump(n))


def text(value):
    """How a value appears inside text (and through `| string`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return to_json(value)


FILTERS = {
    "length": len,
    "first": lambda v: v[0] if v else None,
    "last": lambda v: v[-1] if v else None,
    "default": lambda v, d: d if v is None else v,
    "json": to_json,
    "upper": str.upper,
    "lower": str.lower,
    "trim": str.strip,
    "join": lambda v, sep="": sep.join(i if isinstance(i, str) else str(i) for i in v),
    "keys": lambda v: list(v),
    "values": lambda v: list(v.values()),
    "round": lambda v, *n: round(v, *n),
    "int": int,
    "float": float,
    "string": text,
}


class Skip(Exception):
    """The expression is not deterministic (uuid(), now(), execution ids)."""


def evaluate(e, lenient=False):
    """The reference interpreter: the expression language's meaning, one AST node at a time.
    ``lenient``: inside a ``default``'s input, where a missing item or key, or a lookup in
    null, is null."""
    kind = e["kind"]
    if kind == "literal":
        value = e["value"]
        if isinstance(value, int) and not isinstance(value, bool) and not e["integer"]:
            return float(value)  # "2.0" arrives through JSON as 2
        return value
    if kind == "list":
        return [evaluate(i, lenient) for i in e["items"]]
    if kind in ("member", "index"):
        obj = e["object"]
        key = e["name"] if kind == "member" else evaluate(e["index"], lenient)
        if obj["kind"] == "root":
            if obj["name"] == "execution":
                raise Skip
            target = {"input": INPUT, "nodes": NODES}[obj["name"]]
        else:
            target = evaluate(obj, lenient)
        if lenient and (target is None or isinstance(target, (list, str, dict))):
            try:
                return None if target is None else target[key]
            except (IndexError, KeyError):
                return None
        return target[key]
    if kind == "filter":
        value = evaluate(e["input"], lenient or e["name"] == "default")
        return FILTERS[e["name"]](value, *[evaluate(a, lenient) for a in e["args"]])
    if kind == "call":
        raise Skip
    if kind == "unary":
        value = evaluate(e["operand"], lenient)
        return {"not": lambda: not value, "-": lambda: -value, "+": lambda: +value}[e["op"]]()
    if kind == "binary":
        op = e["op"]
        if op == "and":
            return evaluate(e["left"], lenient) and evaluate(e["right"], lenient)
        if op == "or":
            return evaluate(e["left"], lenient) or evaluate(e["right"], lenient)
        left, right = evaluate(e["left"], lenient), evaluate(e["right"], lenient)
        return {
            "==": lambda: left == right, "!=": lambda: left != right, "<": lambda: left < right,
            "<=": lambda: left <= right, ">": lambda: left > right, ">=": lambda: left >= right,
            "+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
            "/": lambda: left / right, "%": lambda: left % right,
        }[op]()  # fmt: skip
    if kind == "conditional":
        test = evaluate(e["test"], lenient)
        return evaluate(e["then"], lenient) if test else evaluate(e["otherwise"], lenient)
    raise ValueError(kind)


def evaluate_template(t):
    if t["kind"] == "single":
        return evaluate(t["expr"])
    parts = t["parts"]
    return "".join(p["text"] if p["kind"] == "text" else text(evaluate(p["expr"])) for p in parts)


def outcome(f):
    """A comparable result: the value, or the exception's type."""
    try:
        value = f()
    except Skip:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure must match the reference's
        return {"raised": type(exc).__name__}
    if isinstance(value, float) and math.isnan(value):
        return {"nan": True}
    return {"value": value, "type": type(value).__name__}


def check(case):
    try:
        tree = ast.parse(case["source"])
        compile(tree, "prop.py", "exec")
    except SyntaxError as exc:
        return {"ok": False, "error": f"{exc.msg} at {exc.lineno}:{exc.offset}: {exc.text!r}"}
    result = {"ok": True}
    run = next(n for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "run")
    ret = [n for n in ast.walk(run) if isinstance(n, ast.Return)][-1]
    pairs = zip(ret.value.keys, ret.value.values, strict=True)
    value = next(v for k, v in pairs if k.value == "v")
    code = compile(ast.Expression(value), "v", "eval")
    inp = types.SimpleNamespace(**INPUT)
    ctx = types.SimpleNamespace(execution_id="e", workflow_id="prop")
    # Generated code reads a node's value from the local named after it.
    scope = {"inp": inp, "ctx": ctx, "to_json": to_json, **HELPERS, **NODES}
    if "sentinel" in case:
        inp.s = case["sentinel"]
        result["value"] = eval(code, scope)  # noqa: S307 - test harness, evaluating our own output
    if case.get("canon"):
        result["canon"] = canon(value)
    if case.get("template"):
        try:
            result["reference"] = outcome(lambda: evaluate_template(case["template"]))
            result["compiled"] = outcome(lambda: eval(code, scope))  # noqa: S307
        except Skip:
            pass
    return result


json.dump([check(case) for case in json.load(sys.stdin)], sys.stdout)
