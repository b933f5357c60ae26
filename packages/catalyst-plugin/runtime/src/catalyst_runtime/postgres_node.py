"""The ``postgres`` node at run time: one SQL statement on the service's asyncpg pool.

Generated code calls ``await pg_query(ctx, "node_id", "SELECT ... $1", [value], mode="rows")``
once per node. The SQL is fixed at compile time and every value is a bound parameter; the pool
is ``ctx.pools.postgres``, built once at start-up, and a request only borrows a connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json as stdlib_json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import orjson

from .bodies import dumps
from .errors import ConfigError, node_error
from .pools import acquire_postgres

if TYPE_CHECKING:
    import asyncpg

    from .context import ExecutionContext

__all__ = ["pg_query", "setup_connection"]

Mode = Literal["rows", "row", "value", "execute"]
_MODES = frozenset({"rows", "row", "value", "execute"})
# As in http_node: orjson would round an integer beyond 64 bits; such text goes to the exact parser.
_LONG_DIGITS = re.compile(r"\d{19}")


async def pg_query(
    ctx: ExecutionContext,
    node_id: str,
    query: str,
    params: Sequence[Any] = (),
    *,
    mode: Mode = "rows",
    timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's own per-query timeout
) -> Any:
    """Run ``query`` with ``params`` bound to ``$1..$n`` and return JSON-ready values.

    ``mode``: ``"rows"`` gives ``{"rows": [row, ...], "count": n}``, ``"row"`` the first row
    or ``None``, ``"value"`` the first column of the first row (``None`` without a row),
    ``"execute"`` ``{"status": "INSERT 0 1"}`` (the server's command tag). A row is a dict of
    column name to value; numeric, dates, times, UUIDs and json/jsonb come back as values JSON
    can hold (see ``plain``).

    ``timeout`` (seconds) bounds waiting for a connection and, separately, the query, which the
    server is then asked to cancel: the node fails with a 504. A connection found lost (the
    server restarted, an idle connection was cut) is replaced and the query tried once more on
    a fresh one. Other failures are a 502 naming the node and the error's class and SQLSTATE,
    never the SQL or its values.
    """
    pools = ctx.pools
    if pools is None:
        raise ConfigError("pools", "this workflow has postgres nodes but the context has no pools")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, not {mode!r}")
    pool = pools.postgres
    args = tuple(params)
    try:
        try:
            return await _attempt(pool, query, args, mode, timeout)
        except Exception as exc:
            if not _connection_lost(exc):
                raise
        return await _attempt(pool, query, args, mode, timeout)
    except Exception as exc:
        raise node_error(node_id, exc) from exc


async def _attempt(
    pool: asyncpg.Pool[asyncpg.Record],
    query: str,
    args: tuple[Any, ...],
    mode: str,
    timeout: float | None,  # noqa: ASYNC109
) -> Any:
    import asyncpg

    async with acquire_postgres(pool, timeout) as conn:
        try:
            return await _run(conn, query, args, mode, timeout)
        except asyncpg.DataError as exc:
            # asyncpg encodes a date, uuid, numeric... parameter from its Python type only; a
            # JSON value is text. Parse the text as the type the server asked for, then run.
            if not str(exc).startswith(_BAD_ARGUMENT) or not any(isinstance(a, str) for a in args):
                raise
            statement = await conn.prepare(query, timeout=timeout)
            typed = _from_text(statement.get_parameters(), args)
            if typed == args:
                raise
        return await _run(conn, query, typed, mode, timeout)


async def _run(
    conn: asyncpg.pool.PoolConnectionProxy[asyncpg.Record],
    query: str,
    args: tuple[Any, ...],
    mode: str,
    timeout: float | None,  # noqa: ASYNC109
) -> Any:
    if mode == "rows":
        records = await conn.fetch(query, *args, timeout=timeout)
        rows = [_row(r) for r in records]
        return {"rows": rows, "count": len(rows)}
    if mode == "row":
        record = await conn.fetchrow(query, *args, timeout=timeout)
        return None if record is None else _row(record)
    if mode == "value":
        return plain(await conn.fetchval(query, *args, timeout=timeout))
    status: str = await conn.execute(query, *args, timeout=timeout)
    return {"status": status}


_BAD_ARGUMENT = "invalid input for query argument"


def _timestamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


_FROM_TEXT: dict[str, Any] = {
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timetz": dt.time.fromisoformat,
    "timestamp": _timestamp,
    "timestamptz": _timestamp,
    "uuid": uuid.UUID,
    "numeric": Decimal,
}


def _from_text(types: Sequence[Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with each text value for a date, time, timestamp, uuid or numeric parameter
    parsed as that type (ISO 8601 for dates and times); text that does not parse stays text,
    and asyncpg then refuses it (a 502 naming the node, without the value)."""
    typed = list(args)
    for index, (kind, value) in enumerate(zip(types, args, strict=False)):
        parse = _FROM_TEXT.get(kind.name) if kind.schema == "pg_catalog" else None
        if parse is not None and isinstance(value, str):
            with contextlib.suppress(ValueError, ArithmeticError):
                typed[index] = parse(value)
    return tuple(typed)


def _connection_lost(exc: BaseException) -> bool:
    import asyncpg

    if isinstance(exc, asyncpg.ConnectionDoesNotExistError):
        return True
    # asyncpg says "connection is closed" when it already knew, before sending anything.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return {key: plain(value) for key, value in record.items()}


_SCALARS = (str, int, float, bool, type(None))


def plain(value: Any) -> Any:
    """``value`` as a value JSON can hold, as the rest of the workflow reads it.

    ``numeric`` (``Decimal``): an ``int`` when integral, else a ``float`` (what the response
    writer does too, so arithmetic in later nodes works); ``NaN`` and infinities, which JSON
    cannot hold, are ``None`` (as are non-finite floats). Dates, times and
    timestamps: ISO 8601 text; ``interval``: seconds; ``uuid``: text; ``bytea``: hex text;
    arrays: lists; composite values and records: dicts; json/jsonb: already decoded by the
    pool's codec (``setup_connection``). Anything else (network addresses, ranges...) is text.
    """
    if isinstance(value, _SCALARS):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    items = getattr(value, "items", None)
    if callable(items):  # asyncpg.Record (composite values)
        return {str(key): plain(item) for key, item in items()}
    return str(value)


def _decode_json(text: str) -> Any:
    if _LONG_DIGITS.search(text) is None:
        return orjson.loads(text)
    return stdlib_json.loads(text)


def _encode_json(value: Any) -> str:
    return dumps(value).decode()


async def setup_connection(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Run on each new pooled connection: json and jsonb travel as JSON values.

    A jsonb column comes back as the dict, list or scalar it holds (not its text), and a
    parameter sent to a json/jsonb column is encoded from the value (``$1::jsonb`` takes
    ``{"a": 1}``), with the response writer's own encoder.
    """
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=_encode_json, decoder=_decode_json, format="text"
        )
