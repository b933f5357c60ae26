"""``vector_search`` against real Qdrant in local mode (a folder of its own per test), and the
client's remote side against loopback stand-ins for the failures a server can give (no mock of
the client).

The collection ``docs`` holds 4-dimensional vectors (cosine); the query vectors below are chosen so
the order of the results is known.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from qdrant_client import models

from catalyst_runtime import (
    ConfigError,
    ConnectionPools,
    ExecutionContext,
    NodeError,
    NodeTimeoutError,
    Settings,
    UpstreamError,
    vector_search,
)
from catalyst_runtime.testing import free_port
from catalyst_runtime.vector_search_node import MAX_LIMIT, MAX_VECTOR_SIZE

pytestmark = pytest.mark.anyio

UUID = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "workflow.schema.json"

POINTS = [
    models.PointStruct(
        id=1, vector=[1.0, 0.0, 0.0, 0.0], payload={"title": "One", "lang": "en", "year": 2020}
    ),
    models.PointStruct(
        id=2,
        vector=[0.9, 0.1, 0.0, 0.0],
        payload={"title": "Two", "lang": "en", "draft": True, "tags": ["a", "b"]},
    ),
    models.PointStruct(
        id=UUID, vector=[0.8, 0.3, 0.0, 0.0], payload={"title": "Trois", "lang": "fr", "year": 2021}
    ),
    models.PointStruct(id=4, vector=[0.0, 0.0, 1.0, 0.0], payload={"title": "Far", "lang": "en"}),
]


async def seed(pools: ConnectionPools) -> None:
    await pools.qdrant.create_collection(
        "docs", vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE)
    )
    await pools.qdrant.upsert("docs", points=POINTS)


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[ExecutionContext]:
    """A run's context whose pools hold local-mode Qdrant in a folder, seeded with ``docs``."""
    pools = await ConnectionPools.create(Settings(qdrant_path=str(tmp_path / "q")), ["qdrant"])
    try:
        await seed(pools)
        yield ExecutionContext("vector_test", None, pools=pools)
    finally:
        await pools.close()


def ids(result: dict[str, Any]) -> list[Any]:
    return [hit["id"] for hit in result["results"]]


async def test_the_nearest_points_come_first_as_json_ready_values(ctx: ExecutionContext) -> None:
    result = await vector_search(ctx, "hits", "docs", [1, 0, 0, 0], limit=3)
    assert ids(result) == [1, 2, UUID]  # an integer id stays one; a UUID is its text
    scores = [hit["score"] for hit in result["results"]]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0)
    assert all(type(score) is float for score in scores)
    assert result["results"][0]["payload"] == {"title": "One", "lang": "en", "year": 2020}
    assert orjson.loads(orjson.dumps(result)) == result  # JSON as is, nothing to convert


async def test_limit_bounds_the_results(ctx: ExecutionContext) -> None:
    assert ids(await vector_search(ctx, "hits", "docs", [1, 0, 0, 0], limit=1)) == [1]
    assert len((await vector_search(ctx, "hits", "docs", [1, 0, 0, 0]))["results"]) == 4
    with pytest.raises(ValueError, match="limit must be 1 to 1000"):
        await vector_search(ctx, "hits", "docs", [1, 0, 0, 0], limit=0)
    with pytest.raises(ValueError, match="limit must be 1 to 1000"):
        await vector_search(ctx, "hits", "docs", [1, 0, 0, 0], limit=MAX_LIMIT + 1)


def test_the_limit_bound_is_the_compilers() -> None:
    node = json.loads(SCHEMA.read_text())["$defs"]["VectorSearchNode"]
    assert node["properties"]["limit"]["maximum"] == MAX_LIMIT


async def test_must_and_must_not_filter_on_payload_values(ctx: ExecutionContext) -> None:
    query = [1, 0, 0, 0]
    english = await vector_search(ctx, "hits", "docs", query, must={"lang": "en"})
    assert ids(english) == [1, 2, 4]
    published = await vector_search(
        ctx, "hits", "docs", query, must={"lang": "en"}, must_not={"draft": True}
    )
    assert ids(published) == [1, 4]
    assert ids(await vector_search(ctx, "hits", "docs", query, must={"year": 2021})) == [UUID]
    # A key holding a list matches when one of its items does.
    assert ids(await vector_search(ctx, "hits", "docs", query, must={"tags": "b"})) == [2]
    assert ids(await vector_search(ctx, "hits", "docs", query, must={"lang": "de"})) == []
    empty = await vector_search(ctx, "hits", "docs", query, must={}, must_not={})
    assert len(empty["results"]) == 4  # no condition: no filter


async def test_score_threshold_leaves_out_worse_results(ctx: ExecutionContext) -> None:
    query = [1, 0, 0, 0]
    close = await vector_search(ctx, "hits", "docs", query, score_threshold=0.95)
    assert ids(close) == [1, 2]  # cos(Trois) is about 0.94, cos(Far) 0
    assert all(hit["score"] >= 0.95 for hit in close["results"])
    assert ids(await vector_search(ctx, "hits", "docs", query, score_threshold=1.5)) == []


async def test_declared_payload_keys_are_exactly_what_each_result_holds(
    ctx: ExecutionContext,
) -> None:
    result = await vector_search(ctx, "hits", "docs", [1, 0, 0, 0], payload=["title", "year"])
    assert [hit["payload"] for hit in result["results"]] == [
        {"title": "One", "year": 2020},
        {"title": "Two", "year": None},  # a point without the key: null, not a KeyError later
        {"title": "Trois", "year": 2021},
        {"title": "Far", "year": None},
    ]


async def test_a_missing_collection_is_a_502_naming_node_and_collection(
    ctx: ExecutionContext,
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await vector_search(ctx, "hits", "nope", [0.123456, 0, 0, 0])
    assert caught.value.status_code == 502
    assert caught.value.node_id == "hits"
    assert caught.value.message == (
        'node "hits": Qdrant has no collection "nope": create it, or check the node\'s '
        "collection and QDRANT_URL / CATALYST_QDRANT_PATH"
    )


async def test_a_vector_of_the_wrong_size_is_a_502_giving_both_sizes(
    ctx: ExecutionContext,
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await vector_search(ctx, "hits", "docs", [0.123456, 0.654321, 0])
    assert caught.value.message == (
        'node "hits": the query vector has 3 numbers; collection "docs" holds vectors of 4'
    )
    assert "0.123456" not in caught.value.message


async def test_named_vectors_are_named_as_the_reason(ctx: ExecutionContext) -> None:
    await ctx.pools.qdrant.create_collection(  # type: ignore[union-attr]
        "named",
        vectors_config={"text": models.VectorParams(size=4, distance=models.Distance.COSINE)},
    )
    with pytest.raises(UpstreamError, match='collection "named" has named vectors'):
        await vector_search(ctx, "hits", "named", [1, 0, 0, 0])


@pytest.mark.parametrize(
    ("vector", "problem"),
    [
        (None, "the query vector is null; it must be a list of numbers"),
        ("0.5,0.25", "the query vector is str; it must be a list of numbers"),
        ({"x": 1}, "the query vector is dict; it must be a list of numbers"),
        ([], "the query vector has 0 numbers; it must have 1 to 65536"),
        ([0.0] * (MAX_VECTOR_SIZE + 1), "the query vector has 65537 numbers"),
        ([0.5, True, 0, 0], "the query vector must hold only finite numbers"),
        ([0.5, "1", 0, 0], "the query vector must hold only finite numbers"),
        ([0.5, float("nan"), 0, 0], "the query vector must hold only finite numbers"),
        ([0.5, float("inf"), 0, 0], "the query vector must hold only finite numbers"),
    ],
)
async def test_a_vector_that_is_not_numbers_fails_the_node_without_quoting_it(
    ctx: ExecutionContext, vector: Any, problem: str
) -> None:
    with pytest.raises(NodeError) as caught:
        await vector_search(ctx, "hits", "docs", vector)
    assert type(caught.value) is NodeError  # a 500: the definition let it through
    assert caught.value.message.startswith(f'node "hits": {problem}')
    assert "0.5" not in caught.value.message


async def test_a_tuple_is_a_vector_too(ctx: ExecutionContext) -> None:
    assert ids(await vector_search(ctx, "hits", "docs", (1, 0, 0, 0), limit=1)) == [1]


@pytest.mark.parametrize(
    ("value", "kind"), [(None, "null"), (2.5, "float"), (["en"], "list"), ({"a": 1}, "dict")]
)
async def test_a_filter_value_must_be_text_an_integer_or_a_boolean(
    ctx: ExecutionContext, value: Any, kind: str
) -> None:
    with pytest.raises(NodeError) as caught:
        await vector_search(ctx, "hits", "docs", [1, 0, 0, 0], must_not={"lang": value})
    assert caught.value.message == (
        f'node "hits": the filter value for "lang" is {kind}; '
        "it must be text, an integer or a boolean"
    )


async def test_without_pools_the_node_says_what_is_missing() -> None:
    with pytest.raises(ConfigError, match="vector_search nodes but the context has no pools"):
        await vector_search(ExecutionContext("t", None), "hits", "docs", [1, 0, 0, 0])


# qdrant-client leaves the lock file of a refused second client open; it is collected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_local_mode_keeps_the_folder_and_locks_it_to_one_process(tmp_path: Path) -> None:
    settings = Settings(qdrant_path=str(tmp_path / "q"))
    first = await ConnectionPools.create(settings, ["qdrant"])
    try:
        await seed(first)
        with pytest.raises(ConfigError) as caught:
            await ConnectionPools.create(settings, ["qdrant"])
        assert str(caught.value).startswith(
            "CATALYST_QDRANT_PATH: the folder is in use by another process: local mode serves "
            "one process only"
        )
        del caught
        gc.collect()
    finally:
        await first.close()
    # Closed, the folder is free again and holds what was written.
    again = await ConnectionPools.create(settings, ["qdrant"])
    try:
        ctx = ExecutionContext("t", None, pools=again)
        assert ids(await vector_search(ctx, "hits", "docs", [1, 0, 0, 0], limit=2)) == [1, 2]
    finally:
        await again.close()


async def test_without_a_url_or_path_local_mode_is_in_memory() -> None:
    pools = await ConnectionPools.create(Settings(), ["qdrant"])
    try:
        await seed(pools)
        ctx = ExecutionContext("t", None, pools=pools)
        assert ids(await vector_search(ctx, "hits", "docs", [0, 0, 1, 0], limit=1)) == [4]
    finally:
        await pools.close()


async def test_without_qdrant_client_start_up_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "qdrant_client", None)  # what an absent package gives
    with pytest.raises(ConfigError) as caught:
        await ConnectionPools.create(Settings(), ["qdrant"])
    assert str(caught.value) == (
        "qdrant-client: this service's vector_search nodes need it and it is not installed; "
        'depend on "catalyst-runtime[qdrant]" instead of "catalyst-runtime"'
    )


# --- a Qdrant server: loopback stand-ins for what can go wrong ---------------------------------

Answer = Callable[[bytes], Awaitable[bytes | None]]


async def stand_in(answer: Answer) -> tuple[asyncio.Server, str, list[bytes]]:
    """An HTTP server on loopback that records each request head and replies with ``answer``
    (``None``: never reply)."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                heads.append(head)
                reply = await answer(head)
                if reply is None:
                    await asyncio.sleep(3600)
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", heads


def reply(status: int, body: dict[str, Any]) -> bytes:
    raw = json.dumps(body).encode()
    return b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        len(raw),
        raw,
    )


async def remote(url: str, seconds: float = 10.0) -> ConnectionPools:
    return await ConnectionPools.create(
        Settings(qdrant_url=url, qdrant_timeout=seconds), ["qdrant"]
    )


async def test_a_server_answering_404_is_a_missing_collection(ctx: ExecutionContext) -> None:
    async def answer(head: bytes) -> bytes:
        if head.startswith(b"GET /collections/docs/exists "):
            return reply(200, {"result": {"exists": False}, "status": "ok", "time": 0})
        return reply(404, {"status": {"error": "Not found: Collection `docs` doesn't exist!"}})

    server, url, heads = await stand_in(answer)
    pools = await remote(url)
    try:
        with pytest.raises(UpstreamError, match='Qdrant has no collection "docs"'):
            await vector_search(ExecutionContext("t", None, pools=pools), "hits", "docs", [1, 0])
    finally:
        await pools.close()
        server.close()
    assert [head.split(b" ")[:2] for head in heads] == [
        [b"POST", b"/collections/docs/points/query"],
        [b"GET", b"/collections/docs/exists"],
    ]


async def test_a_server_error_is_a_502_with_its_status() -> None:
    async def answer(head: bytes) -> bytes:
        return reply(503, {"status": {"error": "overloaded"}})

    server, url, _ = await stand_in(answer)
    pools = await remote(url)
    try:
        with pytest.raises(UpstreamError) as caught:
            await vector_search(ExecutionContext("t", None, pools=pools), "hits", "docs", [1, 0])
        assert caught.value.message == 'node "hits": Qdrant answered 503'
    finally:
        await pools.close()
        server.close()


async def test_a_server_that_never_answers_is_a_504_at_the_timeout() -> None:
    async def answer(head: bytes) -> None:
        return None

    server, url, heads = await stand_in(answer)
    pools = await remote(url)
    try:
        ctx = ExecutionContext("t", None, pools=pools)
        with pytest.raises(NodeTimeoutError) as caught:
            await vector_search(ctx, "hits", "docs", [1, 0], timeout=0.3)
        assert caught.value.status_code == 504
        assert caught.value.message == 'node "hits": Qdrant search timed out after 0.3 s'
        assert len(heads) == 1  # it was asked
    finally:
        await pools.close()
        server.close()


async def test_the_settings_timeout_applies_when_the_node_gives_none() -> None:
    async def answer(head: bytes) -> None:
        return None

    server, url, _ = await stand_in(answer)
    pools = await remote(url, seconds=0.2)
    try:
        ctx = ExecutionContext("t", None, pools=pools)
        with pytest.raises(NodeTimeoutError, match=r"timed out after 0\.2 s"):
            await vector_search(ctx, "hits", "docs", [1, 0])
    finally:
        await pools.close()
        server.close()


async def test_an_unreachable_server_is_a_502() -> None:
    pools = await remote(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(UpstreamError) as caught:
            await vector_search(ExecutionContext("t", None, pools=pools), "hits", "docs", [1, 0])
        assert caught.value.message == 'node "hits": could not reach Qdrant (ConnectError)'
    finally:
        await pools.close()
