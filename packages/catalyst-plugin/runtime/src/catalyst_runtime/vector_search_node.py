"""The ``vector_search`` node at run time: the points of a Qdrant collection nearest a vector.

Generated code calls ``await vector_search(ctx, "hits", "docs", inp.embedding, limit=5, ...)``
once per node. The client is ``ctx.pools.qdrant`` (qdrant-client's ``AsyncQdrantClient``, built
once at start-up: a Qdrant server from ``QDRANT_URL``, or local mode in a folder or in memory);
a request never makes its own client.

The answer is ``{"results": [{"id", "score", "payload"}, ...]}``, best first, as values JSON can
hold: an id is the integer or the UUID text the point was stored under. No message or log line
quotes the vector or a filter value; a failure names the node and, where it helps, the collection
(fixed in the definition) and the vector's length.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from .errors import (
    CatalystError,
    ConfigError,
    NodeError,
    NodeTimeoutError,
    UpstreamError,
    node_error,
)

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, models

    from .context import ExecutionContext

__all__ = ["MAX_LIMIT", "MAX_VECTOR_SIZE", "vector_search"]

MAX_LIMIT: Final = 1000
"""The most results one search may ask for (the compiler holds ``limit:`` to it too)."""

MAX_VECTOR_SIZE: Final = 65536
"""The longest query vector: Qdrant's own bound on a dense vector's dimensions."""


async def vector_search(
    ctx: ExecutionContext,
    node_id: str,
    collection: str,
    vector: Any,
    *,
    limit: int = 10,
    must: Mapping[str, Any] | None = None,
    must_not: Mapping[str, Any] | None = None,
    score_threshold: float | None = None,
    payload: Sequence[str] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the node's own deadline, from the definition
) -> dict[str, Any]:
    """The ``limit`` points of ``collection`` nearest ``vector``, best first.

    - ``must`` / ``must_not``: payload key -> a text, integer or boolean value each result's
      payload must (not) hold at that key (Qdrant's ``MatchValue``; a key holding a list matches
      when one of its items does).
    - ``score_threshold``: leave out results scoring worse (for cosine and dot: lower).
    - ``payload``: the payload keys to fetch; each result's payload then holds exactly those
      keys (``None`` for a point without one). ``None`` fetches the whole payload.
    - ``timeout``: seconds for the search (``CATALYST_QDRANT_TIMEOUT``, 10, by default); past
      it the node fails with ``NodeTimeoutError`` (504).

    A vector that is not a list of 1 to ``MAX_VECTOR_SIZE`` finite numbers, or a filter value
    that is not text, an integer or a boolean, fails the node (500: the definition let it
    through). A missing collection, a vector of the wrong size and any other refusal by Qdrant
    are ``UpstreamError`` (502) naming the node; a Qdrant that cannot be reached is a 502 too.
    """
    pools = ctx.pools
    if pools is None:
        raise ConfigError(
            "pools", "this workflow has vector_search nodes but the context has no pools"
        )
    client: AsyncQdrantClient = pools.qdrant
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1 to {MAX_LIMIT}; got {limit}")
    query = _vector(node_id, vector)
    query_filter = _filter(node_id, must, must_not)
    seconds = pools.settings.qdrant_timeout if timeout is None else timeout
    keys = None if payload is None else list(payload)
    try:
        async with asyncio.timeout(seconds):
            response = await client.query_points(
                collection,
                query=query,
                query_filter=query_filter,
                limit=limit,
                score_threshold=score_threshold,
                with_payload=True if keys is None else keys,
                with_vectors=False,
            )
    except CatalystError:
        raise
    except Exception as exc:
        raise await _failure(client, node_id, collection, len(query), seconds, exc) from exc
    return {
        "results": [
            {"id": _id(point.id), "score": point.score, "payload": _payload(point.payload, keys)}
            for point in response.points
        ]
    }


def _vector(node_id: str, vector: Any) -> list[float]:
    if not isinstance(vector, (list, tuple)):
        kind = "null" if vector is None else type(vector).__name__
        raise NodeError(node_id, f"the query vector is {kind}; it must be a list of numbers")
    if not 1 <= len(vector) <= MAX_VECTOR_SIZE:
        raise NodeError(
            node_id,
            f"the query vector has {len(vector)} numbers; it must have 1 to {MAX_VECTOR_SIZE}",
        )
    for x in vector:
        # bool is an int, but True is no coordinate; NaN and infinities have no distance.
        if type(x) is bool or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise NodeError(node_id, "the query vector must hold only finite numbers")
    return vector if isinstance(vector, list) else list(vector)


def _filter(
    node_id: str, must: Mapping[str, Any] | None, must_not: Mapping[str, Any] | None
) -> models.Filter | None:
    if not must and not must_not:
        return None
    from qdrant_client import models

    def conditions(matches: Mapping[str, Any] | None) -> list[models.Condition] | None:
        if not matches:
            return None
        out: list[models.Condition] = []
        for key, value in matches.items():
            # MatchValue compares text, integers and booleans exactly (a float never matches).
            if not isinstance(value, (str, int)):  # bool is an int
                kind = "null" if value is None else type(value).__name__
                raise NodeError(
                    node_id,
                    f'the filter value for "{key}" is {kind}; '
                    "it must be text, an integer or a boolean",
                )
            out.append(models.FieldCondition(key=key, match=models.MatchValue(value=value)))
        return out

    return models.Filter(must=conditions(must), must_not=conditions(must_not))


def _id(point_id: Any) -> int | str:
    return point_id if isinstance(point_id, (int, str)) else str(point_id)  # a UUID object


def _payload(payload: dict[str, Any] | None, keys: list[str] | None) -> dict[str, Any]:
    if keys is None:
        return payload or {}
    found = payload or {}
    return {key: found.get(key) for key in keys}


async def _failure(
    client: AsyncQdrantClient,
    node_id: str,
    collection: str,
    size: int,
    seconds: float,
    exc: Exception,
) -> CatalystError:
    """What a failed search is, in the runtime's words (never Qdrant's, which may quote data)."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    if isinstance(exc, TimeoutError):
        return NodeTimeoutError(node_id, f"Qdrant search timed out after {seconds:g} s")
    if isinstance(exc, ResponseHandlingException):
        # The HTTP exchange with the server failed: no connection, or the client's own timeout.
        name = type(exc.source).__name__
        if isinstance(node_error(node_id, exc.source), NodeTimeoutError):
            return NodeTimeoutError(node_id, f"Qdrant request timed out ({name})")
        return UpstreamError(node_id, f"could not reach Qdrant ({name})")
    status = exc.status_code if isinstance(exc, UnexpectedResponse) else None
    # A refusal: a server answers 404 for a missing collection and 400 for a bad query; local
    # mode raises ValueError for both. Ask the collection itself which it was.
    if isinstance(exc, ValueError) or status in (400, 404):
        return await _diagnose(client, node_id, collection, size, seconds)
    if status is not None:
        return UpstreamError(node_id, f"Qdrant answered {status}")
    return node_error(node_id, exc)


async def _diagnose(
    client: AsyncQdrantClient, node_id: str, collection: str, size: int, seconds: float
) -> UpstreamError:
    refused = UpstreamError(node_id, f'Qdrant refused the search in collection "{collection}"')
    try:
        async with asyncio.timeout(seconds):
            if not await client.collection_exists(collection):
                return UpstreamError(
                    node_id,
                    f'Qdrant has no collection "{collection}": create it, or check the node\'s '
                    "collection and QDRANT_URL / CATALYST_QDRANT_PATH",
                )
            info = await client.get_collection(collection)
    except Exception:
        return refused
    vectors = info.config.params.vectors
    expected = getattr(vectors, "size", None)
    if isinstance(expected, int) and expected != size:
        return UpstreamError(
            node_id,
            f'the query vector has {size} numbers; collection "{collection}" holds vectors of '
            f"{expected}",
        )
    if isinstance(vectors, dict):
        return UpstreamError(
            node_id,
            f'collection "{collection}" has named vectors, and vector_search queries the '
            "unnamed one",
        )
    return refused
