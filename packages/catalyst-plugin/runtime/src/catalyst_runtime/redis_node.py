"""The ``redis`` node at run time: one command on the service's pooled client.

Generated code calls ``await redis_command(ctx, "node_id", "incr", key, by=1)`` once per node.
The client is ``ctx.pools.redis`` (``redis.asyncio.Redis``, built once at start-up, answering
bytes); a request never makes its own client.

Values are text in Redis. ``set``, ``hset`` and ``publish`` write a string as is and any other
value as compact JSON; with ``json=True`` every value is written as JSON (a string in quotes), so
``get``/``hget`` with ``json=True`` give back exactly what was written. ``get``/``hget`` return
the stored text (UTF-8; bytes that are not are replaced by U+FFFD), or with ``json=True`` the JSON
it holds, and ``None`` when the key or field does not exist.
"""

from __future__ import annotations

import json as stdlib_json
from typing import TYPE_CHECKING, Any, Final, Literal

import orjson

from .bodies import dumps
from .errors import CatalystError, ConfigError, NodeError, UpstreamError, node_error
from .http_node import _LONG_DIGITS, _finite, _reject

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .context import ExecutionContext

__all__ = ["redis_command"]

RedisCommand = Literal["get", "set", "incr", "del", "hget", "hset", "publish"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Final = _Missing()

_NEEDS_VALUE: Final = frozenset({"set", "hset", "publish"})
_NEEDS_FIELD: Final = frozenset({"hget", "hset"})


async def redis_command(
    ctx: ExecutionContext,
    node_id: str,
    command: RedisCommand,
    key: Any,
    *,
    field: Any = None,
    value: Any = _MISSING,
    ttl: int | None = None,
    by: int = 1,
    json: bool = False,
) -> dict[str, Any]:
    """Run ``command`` on ``key`` (for ``publish``, the channel) and return ``{"value": ...}``.

    - ``get``: the text at ``key`` or ``None`` (with ``json``, the parsed JSON).
    - ``set``: writes ``value`` (expiring after ``ttl`` seconds if given); ``True``.
    - ``incr``: adds ``by`` (default 1) and returns the new integer.
    - ``del``: the number of keys removed (0 or 1).
    - ``hget``: the text of ``field`` in the hash at ``key`` or ``None`` (with ``json``, parsed).
    - ``hset``: writes ``field``; the number of fields added (0 when it was replaced).
    - ``publish``: sends ``value`` on the channel; the number of subscribers that received it.

    A key, field or channel must be text or a number (booleans as ``true``/``false``): anything
    else fails the node (500). A Redis failure raises ``UpstreamError`` (502) naming the node and
    the error's type, a timeout ``NodeTimeoutError`` (504); stored text that is not JSON when
    ``json`` asks for it is a 502 too. No message quotes a key, a value or the server's URL.
    """
    pools = ctx.pools
    if pools is None:
        raise ConfigError("pools", "this workflow has redis nodes but the context has no pools")
    client: Redis = pools.redis
    name = _name(node_id, "channel" if command == "publish" else "key", key)
    if command in _NEEDS_FIELD:
        field = _name(node_id, "field", field)
    if command in _NEEDS_VALUE:
        if value is _MISSING:
            raise ValueError(f"redis {command} needs a value")
        value = _encode(value, json)
    try:
        result = await _run(client, command, name, field, value, ttl, by)
    except CatalystError:
        raise
    except Exception as exc:
        raise node_error(node_id, exc) from exc
    if command in ("get", "hget"):
        result = _decode(node_id, result, json)
    return {"value": result}


async def _run(
    client: Redis,
    command: str,
    name: str,
    field: Any,
    value: Any,
    ttl: int | None,
    by: int,
) -> Any:
    if command == "get":
        return await client.get(name)
    if command == "set":
        return bool(await client.set(name, value, ex=ttl))
    if command == "incr":
        return await client.incrby(name, by)
    if command == "del":
        return await client.delete(name)
    if command == "hget":
        return await client.hget(name, field)
    if command == "hset":
        return await client.hset(name, field, value)
    if command == "publish":
        return await client.publish(name, value)
    raise ValueError(f"unknown redis command {command!r}")


def _name(node_id: str, what: str, value: Any) -> str:
    """A key, field or channel as text; numbers as ``str()`` gives them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON would say it, not Python's "True"
    if isinstance(value, (int, float)):
        return str(value)
    kind = "null" if value is None else type(value).__name__
    raise NodeError(node_id, f"the Redis {what} is {kind}; it must be text or a number")


def _encode(value: Any, json: bool) -> bytes | str:
    if isinstance(value, str) and not json:
        return value
    return dumps(value)


def _decode(node_id: str, raw: bytes | None, json: bool) -> Any:
    if raw is None:
        return None
    if not json:
        return raw.decode("utf-8", errors="replace")
    try:
        if _LONG_DIGITS.search(raw) is None:
            return orjson.loads(raw)
        return stdlib_json.loads(raw, parse_constant=_reject, parse_float=_finite)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise UpstreamError(node_id, "the value stored in Redis is not JSON") from exc
