"""Pools against real PostgreSQL and Redis (started by tools/services) and embedded Qdrant."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from catalyst_runtime import ConfigError, ConnectionPools, Settings
from catalyst_runtime.bodies import dumps
from catalyst_runtime.testing import free_port


@pytest.fixture
def settings(postgres_dsn: str, redis_url: str) -> Settings:
    return Settings(postgres_dsn=postgres_dsn, redis_url=redis_url, postgres_max_size=4)


@pytest.mark.anyio
async def test_builds_every_pool_and_closes_them(settings: Settings) -> None:
    pools = await ConnectionPools.create(settings, ["http", "llm", "postgres", "redis", "qdrant"])
    try:
        assert ConnectionPools.current() is pools
        assert pools.names == {"http", "llm", "postgres", "redis", "qdrant"}
        assert pools.http is not pools.llm  # type: ignore[comparison-overlap]
        assert pools.http.timeout.sock_connect == settings.http_connect_timeout
        assert pools.llm.timeout.read == settings.llm_timeout
        assert await pools.postgres.fetchval("SELECT 40 + $1::int", 2) == 42
        row = await pools.postgres.fetchrow("SELECT 1 AS id, 'a'::text AS name, 1.5::numeric AS n")
        assert dumps(row) == b'{"id":1,"name":"a","n":1.5}'
        assert await pools.redis.ping() is True
        collections = await pools.qdrant.get_collections()
        assert collections.collections == []
        assert "postgres" in repr(pools)
    finally:
        await pools.close()
    assert pools.closed
    await pools.close()  # idempotent
    with pytest.raises(ConfigError, match="pool is closed"):
        _ = pools.postgres
    with pytest.raises(ConfigError, match="no pools are open"):
        ConnectionPools.current()


@pytest.mark.anyio
async def test_builds_only_what_is_needed(settings: Settings) -> None:
    pools = await ConnectionPools.create(settings, ["redis"])
    try:
        assert pools.names == {"redis"}
        with pytest.raises(ConfigError, match=r"pools.http: pool is not created: list 'http'"):
            _ = pools.http
        for name in ("llm", "postgres", "qdrant"):
            with pytest.raises(ConfigError):
                getattr(pools, name)
    finally:
        await pools.close()


@pytest.mark.anyio
async def test_settings_from_environment_by_default(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    pools = await ConnectionPools.create(needs=["redis"])
    try:
        assert await pools.redis.ping() is True
    finally:
        await pools.close()


@pytest.mark.anyio
async def test_missing_url_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL: required by postgres nodes"):
        await ConnectionPools.create(Settings(), ["http", "postgres"])
    with pytest.raises(ConfigError, match="REDIS_URL: required by redis nodes"):
        await ConnectionPools.create(Settings(), ["redis"])
    with pytest.raises(ValueError, match="unknown pools"):
        await ConnectionPools.create(Settings(), ["mysql"])


@pytest.mark.anyio
async def test_unreachable_servers_name_the_variable() -> None:
    port = free_port()
    redis = Settings(redis_url=f"redis://:hunter2@127.0.0.1:{port}/0")
    with pytest.raises(ConfigError, match="REDIS_URL: could not connect") as caught:
        await ConnectionPools.create(redis, ["http", "redis"])
    assert "hunter2" not in str(caught.value)
    postgres = Settings(postgres_dsn=f"postgresql://u:hunter2@127.0.0.1:{port}/db")
    with pytest.raises(ConfigError, match="DATABASE_URL: could not connect") as caught:
        await ConnectionPools.create(postgres, ["postgres"])
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError, match="no pools are open"):
        ConnectionPools.current()


@pytest.mark.anyio
async def test_qdrant_server_url_is_used() -> None:
    # A stand-in Qdrant server that records what it is asked: the client must call it, not an
    # embedded store or a default address.
    requests: list[bytes] = []
    body = b'{"result":{"collections":[]},"status":"ok","time":0.0}'

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(qdrant_url=f"http://127.0.0.1:{port}", qdrant_api_key=None)
    pools = await ConnectionPools.create(settings, ["qdrant"])
    try:
        assert not requests  # connecting is lazy: building the client asks nothing
        collections = await pools.qdrant.get_collections()
        assert collections.collections == []
        assert len(requests) == 1
        assert requests[0].startswith(b"GET /collections ")
    finally:
        await pools.close()
        server.close()
        await server.wait_closed()


@pytest.mark.anyio
async def test_close_goes_on_after_a_failure(settings: Settings) -> None:
    pools = await ConnectionPools.create(settings, ["http", "redis"])
    http = pools.http
    redis = pools.redis

    async def broken() -> None:
        raise RuntimeError("close failed")

    redis.aclose = broken  # type: ignore[method-assign,assignment]
    with pytest.raises(RuntimeError, match="close failed"):
        await pools.close()
    assert http.closed
    await redis.connection_pool.disconnect()


def test_a_service_without_postgres_never_imports_asyncpg() -> None:
    code = (
        "import asyncio, sys\n"
        "from catalyst_runtime import ConnectionPools, Settings\n"
        "async def main():\n"
        "    pools = await ConnectionPools.create(Settings(), ['http'])\n"
        "    await pools.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in ('asyncpg', 'redis', 'qdrant_client') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.anyio
async def test_the_provider_clients_connections_are_counted_and_their_waits_timed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """anthropic and openai send on an HTTP client of their own, not the llm pool's: the
    metrics read that client's connections and time its waits, under the provider's name."""
    from catalyst_runtime import pools as pools_module
    from catalyst_runtime.testing_providers import provider_server

    waits: list[str] = []
    monkeypatch.setattr(pools_module, "wait_observer", lambda pool, _seconds: waits.append(pool))
    settings = Settings(llm_max_connections=3)
    with provider_server() as provider:
        pools = await ConnectionPools.create(settings, ["anthropic", "openai"])
        try:
            anthropic = pools.provider("anthropic").get(provider.url, "key")
            await anthropic.messages.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
            )
            openai = pools.provider("openai").get(f"{provider.url}/v1", "key")
            await openai.chat.completions.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]
            )
            usage = {name: counts for name, *counts in pools.usage()}
        finally:
            await pools.close()
    # One call each, its connection kept for the next: idle, none in use, the llm limit.
    assert usage["anthropic"] == [0, 1, 3], usage
    assert usage["openai"] == [0, 1, 3], usage
    # Both send on httpx2 clients of their own: the llm pool (Groq's) is not opened for them.
    assert "llm" not in usage, usage
    assert "llm" not in pools.names
    assert sorted(waits) == ["anthropic", "openai"], waits


@pytest.mark.anyio
async def test_a_provider_keeps_clients_for_at_most_max_clients_endpoints_and_keys() -> None:
    from catalyst_runtime.llm_providers import MAX_CLIENTS

    pools = await ConnectionPools.create(Settings(), ["openai"])
    try:
        clients = pools.provider("openai")
        first = clients.get("http://127.0.0.1:9/v1", "key-0")
        for n in range(1, MAX_CLIENTS):
            clients.get("http://127.0.0.1:9/v1", f"key-{n}")
        assert clients.get("http://127.0.0.1:9/v1", "key-0") is first  # kept, not made again
        with pytest.raises(ConfigError, match=f"more than {MAX_CLIENTS} base URL and key pairs"):
            clients.get("http://127.0.0.1:9/v1", f"key-{MAX_CLIENTS}")
    finally:
        await pools.close()
