"""The ``vector_search_nodes`` golden, served for real: its generated service under uvicorn
(``catalyst_runtime.testing.running_server``), called over HTTP.

Qdrant runs in local mode in a folder (``CATALYST_QDRANT_PATH``) that the test seeds first and
then hands to the service, as an operator would. A server (``QDRANT_URL``) is a loopback stand-in
that records what the service asks it: the compiled filter, limit, threshold and payload keys
must arrive there as the definition says.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from catalyst_runtime.testing import running_server
from qdrant_client import QdrantClient, models

PACKAGE = "vector_search_live"
# Importing qdrant-client takes seconds; a loaded machine must not fail the start-up wait.
STARTUP = 120.0
UUID = "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"
POINTS = [
    (1, [1.0, 0.0, 0.0, 0.0], {"title": "One", "lang": "en", "year": 2020, "draft": False}),
    (2, [0.9, 0.1, 0.0, 0.0], {"title": "Two", "lang": "en", "draft": True}),
    (UUID, [0.8, 0.3, 0.0, 0.0], {"title": "Trois", "lang": "fr", "year": 2021}),
    (4, [0.7, 0.7, 0.1, 0.0], {"title": "Four", "lang": "en", "year": 2024, "body": "long"}),
    (5, [0.0, 0.0, 1.0, 0.0], {"title": "Far", "lang": "en"}),
]


@pytest.fixture(scope="module")
def layout(golden_service: Callable[[str, str], tuple[Path, str]]) -> tuple[Path, str]:
    return golden_service("vector_search_nodes", PACKAGE)


@pytest.fixture(scope="module")
def qdrant_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A local-mode folder holding the collection ``golden_docs`` (4 dimensions, cosine)."""
    path = str(tmp_path_factory.mktemp("qdrant") / "storage")
    client = QdrantClient(path=path)
    try:
        client.create_collection(
            "golden_docs",
            vectors_config=models.VectorParams(size=4, distance=models.Distance.COSINE),
        )
        client.upsert(
            "golden_docs",
            points=[models.PointStruct(id=i, vector=v, payload=p) for i, v, p in POINTS],
        )
    finally:
        client.close()  # releases the folder's lock for the service
    return path


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "service.log"


@pytest.fixture(scope="module")
def service(layout: tuple[Path, str], qdrant_path: str, log_file: Path) -> Iterator[str]:
    root, app = layout
    env = {"CATALYST_QDRANT_PATH": qdrant_path}
    debug = ["--log-level", "debug"]  # causes are logged at debug level: they must not leak
    with running_server(
        app, cwd=root, env=env, log_file=log_file, extra_args=debug, startup_timeout=STARTUP
    ) as url:
        yield url


def test_search_filters_thresholds_and_returns_the_declared_payload(service: str) -> None:
    answer = httpx.post(f"{service}/search", json={"embedding": [1, 0, 0, 0], "lang": "en"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # Two is a draft (must_not), Trois is French (must), Far scores 0 (under 0.5); limit 3.
    assert [hit["id"] for hit in body["results"]] == [1, 4]
    assert body["count"] == 2
    assert body["best"] == "One"
    # Exactly the keys "payload" declares, null where a point has none; "body" is not fetched.
    assert [hit["payload"] for hit in body["results"]] == [
        {"title": "One", "year": 2020, "lang": "en", "draft": False},
        {"title": "Four", "year": 2024, "lang": "en", "draft": None},
    ]
    assert body["results"][0]["score"] == pytest.approx(1.0)
    assert "hits;dur=" in answer.headers["server-timing"]


def test_another_language_and_no_match(service: str) -> None:
    french = httpx.post(f"{service}/search", json={"embedding": [1, 0, 0, 0], "lang": "fr"})
    assert [hit["id"] for hit in french.json()["results"]] == [UUID]  # a UUID id is its text
    none = httpx.post(f"{service}/search", json={"embedding": [1, 0, 0, 0], "lang": "de"})
    assert none.json() == {"count": 0, "best": None, "results": []}


def test_defaults_give_ten_results_with_whole_payloads(service: str) -> None:
    answer = httpx.get(f"{service}/nearest")
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [hit["id"] for hit in results] == [1, 2, UUID, 4, 5]
    assert results[3]["payload"] == {"title": "Four", "lang": "en", "year": 2024, "body": "long"}


def test_failures_name_the_node_and_never_the_vector(service: str, log_file: Path) -> None:
    absent = httpx.post(f"{service}/absent", json={"embedding": [0.31415, 0, 0, 0]})
    assert absent.status_code == 502
    assert absent.json()["detail"] == [
        {
            "type": "upstream_error",
            "loc": ["nodes", "lookup"],
            "msg": 'node "lookup": Qdrant has no collection "golden_absent": create it, or '
            "check the node's collection and QDRANT_URL / CATALYST_QDRANT_PATH",
        }
    ]
    short = httpx.post(f"{service}/search", json={"embedding": [0.27182, 0, 0], "lang": "en"})
    assert short.status_code == 502
    assert short.json()["detail"][0]["loc"] == ["nodes", "hits"]
    assert short.json()["detail"][0]["msg"] == (
        'node "hits": the query vector has 3 numbers; collection "golden_docs" holds vectors of 4'
    )
    bad = httpx.post(f"{service}/search", json={"embedding": [1, 0, 0, 0]})
    assert bad.status_code == 422
    assert [error["loc"] for error in bad.json()["detail"]] == [["body", "lang"]]
    # Still serving; and the log (at debug level, causes included) holds neither vector.
    assert httpx.get(f"{service}/nearest").status_code == 200
    log = log_file.read_text()  # JSON lines (the format when not on a terminal)
    messages = [json.loads(line)["message"] for line in log.splitlines() if line.startswith("{")]
    assert any(m.startswith('POST /absent -> 502: node "lookup"') for m in messages)
    assert any(m.startswith('POST /search -> 502: node "hits"') for m in messages)
    assert "0.31415" not in log and "0.27182" not in log


def test_a_second_process_on_the_same_folder_refuses_to_start(
    service: str, layout: tuple[Path, str], qdrant_path: str
) -> None:
    root, app = layout
    with (
        pytest.raises(RuntimeError) as caught,
        running_server(
            app,
            cwd=root,
            env={"CATALYST_QDRANT_PATH": qdrant_path, "CATALYST_LOG_FORMAT": "text"},
            startup_timeout=STARTUP,
        ),
    ):
        pass  # pragma: no cover
    assert (
        "CATALYST_QDRANT_PATH: the folder is in use by another process: local mode serves one "
        "process only; run a Qdrant server and set QDRANT_URL to serve from several"
    ) in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert httpx.get(f"{service}/nearest").status_code == 200  # the first one is unharmed


def test_without_the_qdrant_extra_start_up_fails_with_one_line(
    layout: tuple[Path, str], tmp_path: Path
) -> None:
    # qdrant-client made unimportable, as in an environment without the extra.
    blocker = tmp_path / "site" / "qdrant_client"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'qdrant_client'\", name='qdrant_client')\n"
    )
    root, app = layout
    env = {"PYTHONPATH": str(blocker.parent), "CATALYST_LOG_FORMAT": "text"}
    with (
        pytest.raises(RuntimeError) as caught,
        running_server(app, cwd=root, env=env, startup_timeout=STARTUP),
    ):
        pass  # pragma: no cover
    line = (
        "qdrant-client: this service's vector_search nodes need it and it is not installed; "
        'depend on "catalyst-runtime[qdrant]" instead of "catalyst-runtime"'
    )
    log = str(caught.value)
    assert f"ERROR:    ConfigError: {line}\n" in log
    assert "Traceback" not in log


class StandIn:
    """A Qdrant server on loopback, in a thread of its own: answers each search with ``points``,
    except a search for ``lang`` "slow", which it never answers, and keeps the request line and
    body it was sent."""

    def __init__(self, points: list[dict[str, Any]]) -> None:
        self.points = points
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                length = next(
                    (
                        int(line.split(":")[1])
                        for line in head.lower().split("\r\n")
                        if line.startswith("content-length:")
                    ),
                    0,
                )
                body = json.loads(await reader.readexactly(length) or b"{}")
                self.requests.append((head.split("\r\n")[0], body))
                if {"key": "lang", "match": {"value": "slow"}} in body["filter"]["must"]:
                    await asyncio.Event().wait()  # never answer; cancelled at exit
                raw = json.dumps(
                    {"result": {"points": self.points}, "status": "ok", "time": 0}
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(raw), raw)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()

    def __enter__(self) -> str:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def test_a_server_url_is_used_and_receives_the_compiled_query(layout: tuple[Path, str]) -> None:
    root, app = layout
    remote = [{"id": 7, "version": 0, "score": 0.75, "payload": {"title": "Remote", "year": 1}}]
    stand_in = StandIn(remote)
    env = {"QDRANT_URL": "", "CATALYST_QDRANT_PATH": ""}
    with (
        stand_in as url,
        running_server(
            app, cwd=root, env={**env, "QDRANT_URL": url}, startup_timeout=STARTUP
        ) as service,
    ):
        answer = httpx.post(f"{service}/search", json={"embedding": [0.5, 0.5, 0, 0], "lang": "en"})
        slow = httpx.post(
            f"{service}/search", json={"embedding": [1, 0, 0, 0], "lang": "slow"}, timeout=30
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"] == [
        {
            "id": 7,
            "score": 0.75,
            "payload": {"title": "Remote", "year": 1, "lang": None, "draft": None},
        }
    ]
    [(line, sent), _] = stand_in.requests  # nothing asked at start-up
    assert line == "POST /collections/golden_docs/points/query HTTP/1.1"
    assert sent["query"] == {"nearest": [0.5, 0.5, 0, 0]}
    assert sent["limit"] == 3
    assert sent["score_threshold"] == 0.5
    assert sent["with_payload"] == ["title", "year", "lang", "draft"]
    assert sent["filter"]["must"] == [{"key": "lang", "match": {"value": "en"}}]
    assert sent["filter"]["must_not"] == [{"key": "draft", "match": {"value": True}}]
    # A server that does not answer: a 504 naming the node at the node's timeout (2 s).
    assert slow.status_code == 504
    assert slow.json()["detail"] == [
        {
            "type": "timeout",
            "loc": ["nodes", "hits"],
            "msg": 'node "hits": Qdrant search timed out after 2 s',
        }
    ]
