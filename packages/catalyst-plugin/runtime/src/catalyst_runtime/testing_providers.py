"""Loopback LLM providers for tests: real HTTP servers speaking the providers' wire formats.

``with provider_server() as provider:`` serves, on 127.0.0.1, what the official SDKs parse:

- Anthropic Messages (``POST /v1/messages``): a JSON message, or with ``"stream": true`` the
  event stream ``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``
  (``text_delta``; ``input_json_delta`` for a tool use), ``content_block_stop``,
  ``message_delta``, ``message_stop``. Point the SDK at ``provider.url``.
- OpenAI chat completions (``POST /v1/chat/completions``): a JSON completion, or ``data:``
  chunks ending ``data: [DONE]`` (usage in a last chunk when ``stream_options`` asks for it);
  ``response_format`` json_schema answers with the JSON text. ``provider.url + "/v1"``.
- Groq (``POST /openai/v1/chat/completions``): the OpenAI format, usage under ``x_groq`` in
  the last chunk as Groq sends it. Point the SDK at ``provider.url`` (it adds ``/openai/v1``).
- OpenAI embeddings (``POST /v1/embeddings``): one vector per input, made from the text's hash
  (the same text gives the same vector), ``dimensions`` long (8 by default).

``provider.script`` says how to answer: the text's tokens, a wait between them, a status to
answer first (a 429 with ``retry-after``, a 500), a malformed event or a dropped connection
after some tokens, the structured answers to give. ``provider.requests`` records each request's
path and JSON body, so a test can assert what the SDK sent.

Shipped in the runtime (not only in its tests) so that runtime tests, the compiler's golden
tests and the examples' end-to-end tests all start the same servers.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .testing import free_port

__all__ = ["ProviderScript", "ProviderServer", "provider_server"]


@dataclass
class ProviderScript:
    """How the server answers. Change it between requests; each request reads it once."""

    tokens: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    """The answer's text, one streamed delta each."""
    delay: float = 0.0
    """Seconds to wait before each token after the first (a slow provider)."""
    first_delay: float = 0.0
    """Seconds to wait before the first token (the provider's own time to first token)."""
    statuses: list[int] = field(default_factory=list)
    """Statuses to answer the next requests with, one each, before answering normally."""
    retry_after: str | None = None
    """The ``retry-after`` header sent with a scripted 429."""
    malformed_after: int | None = None
    """Send an event that is not JSON after this many tokens (streams only)."""
    drop_after: int | None = None
    """Close the connection after this many tokens, mid-stream (streams only)."""
    structured: list[Any] = field(default_factory=list)
    """Structured answers to give, one per request (the last one repeats): the tool use's
    input (Anthropic) or the JSON text's value (OpenAI). Empty: ``{}``."""
    stop_reason: str | None = None
    """The stop reason to report; the provider's usual one (end_turn, stop) by default."""
    input_tokens: int = 11


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


class ProviderServer:
    """The running server: ``url``, ``script``, ``requests`` (see the module's docstring)."""

    def __init__(self) -> None:
        self.url = ""
        self.script = ProviderScript()
        self.requests: list[RecordedRequest] = []
        self.sent_tokens = 0
        """Tokens written by streams so far, all requests together (a test of forwarding reads
        it to see that a token reached the client before the next one was sent)."""
        self.open_streams = 0
        """Streams still being written: a stream whose client left is closed (0 again)."""
        self.app = Starlette(
            routes=[
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/openai/v1/chat/completions", self._groq, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/openai/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    # -- shared -------------------------------------------------------------------------------

    async def _record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(await request.body())
        headers = {k: v for k, v in request.headers.items() if k in ("x-api-key", "authorization")}
        self.requests.append(RecordedRequest(request.url.path, body, headers))
        return body

    def _scripted_status(self, anthropic: bool) -> Response | None:
        if not self.script.statuses:
            return None
        status = self.script.statuses.pop(0)
        headers = {}
        if status == 429 and self.script.retry_after is not None:
            headers["retry-after"] = self.script.retry_after
        kind = "rate_limit_error" if status == 429 else "api_error"
        message = "scripted failure: do not echo me"
        body = (
            {"type": "error", "error": {"type": kind, "message": message}}
            if anthropic
            else {"error": {"message": message, "type": kind, "code": None}}
        )
        return Response(orjson.dumps(body), status, headers, media_type="application/json")

    def _structured(self) -> Any:
        answers = self.script.structured
        if not answers:
            return {}
        return answers.pop(0) if len(answers) > 1 else answers[0]

    async def _tokens(self, pieces: list[str]) -> AsyncIterator[tuple[int, str]]:
        """Each piece with its index, waiting as the script says, failing where it says."""
        script = self.script
        self.open_streams += 1
        try:
            if script.first_delay:
                await asyncio.sleep(script.first_delay)
            for i, piece in enumerate(pieces):
                if i > 0 and script.delay:
                    await asyncio.sleep(script.delay)
                if script.drop_after is not None and i >= script.drop_after:
                    # An exception in the body makes uvicorn close the connection mid-response.
                    raise ConnectionAbortedError("scripted connection drop")
                if script.malformed_after is not None and i >= script.malformed_after:
                    yield -1, ""
                    return
                self.sent_tokens += 1
                yield i, piece
        finally:
            self.open_streams -= 1

    # -- Anthropic ----------------------------------------------------------------------------

    async def _anthropic(self, request: Request) -> Response:
        body = await self._record(request)
        failure = self._scripted_status(anthropic=True)
        if failure is not None:
            return failure
        script = self.script
        tool = body.get("tool_choice", {}).get("name") if body.get("tools") else None
        text = "".join(script.tokens)
        usage = {"input_tokens": script.input_tokens, "output_tokens": len(script.tokens)}
        stop = script.stop_reason or ("tool_use" if tool else "end_turn")
        if not body.get("stream"):
            if script.first_delay:
                await asyncio.sleep(script.first_delay)
            block = (
                {"type": "tool_use", "id": "toolu_1", "name": tool, "input": self._structured()}
                if tool
                else {"type": "text", "text": text}
            )
            message = _anthropic_message(body, [block], stop, usage)
            return Response(orjson.dumps(message), media_type="application/json")
        pieces = _json_pieces(self._structured()) if tool else list(script.tokens)
        return StreamingResponse(
            self._anthropic_events(body, pieces, tool, stop, usage),
            media_type="text/event-stream",
        )

    async def _anthropic_events(
        self, body: dict[str, Any], pieces: list[str], tool: str | None, stop: str, usage: Any
    ) -> AsyncIterator[bytes]:
        start = _anthropic_message(body, [], None, {**usage, "output_tokens": 1})
        yield _event("message_start", {"type": "message_start", "message": start})
        block = (
            {"type": "tool_use", "id": "toolu_1", "name": tool, "input": {}}
            if tool
            else {"type": "text", "text": ""}
        )
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        )
        yield _event("ping", {"type": "ping"})
        async for i, piece in self._tokens(pieces):
            if i < 0:
                yield b"event: content_block_delta\ndata: {not json\n\n"
                return
            delta = (
                {"type": "input_json_delta", "partial_json": piece}
                if tool
                else {"type": "text_delta", "text": piece}
            )
            yield _event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
        yield _event("message_stop", {"type": "message_stop"})

    # -- OpenAI and Groq ----------------------------------------------------------------------

    async def _openai(self, request: Request) -> Response:
        return await self._chat(request, groq=False)

    async def _groq(self, request: Request) -> Response:
        return await self._chat(request, groq=True)

    async def _chat(self, request: Request, *, groq: bool) -> Response:
        body = await self._record(request)
        failure = self._scripted_status(anthropic=False)
        if failure is not None:
            return failure
        script = self.script
        structured = (body.get("response_format") or {}).get("type") == "json_schema"
        pieces = _json_pieces(self._structured()) if structured else list(script.tokens)
        usage = {
            "prompt_tokens": script.input_tokens,
            "completion_tokens": len(pieces),
            "total_tokens": script.input_tokens + len(pieces),
        }
        stop = script.stop_reason or "stop"
        if not body.get("stream"):
            if script.first_delay:
                await asyncio.sleep(script.first_delay)
            completion = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(pieces)},
                        "finish_reason": stop,
                        "logprobs": None,
                    }
                ],
                "usage": usage,
            }
            return Response(orjson.dumps(completion), media_type="application/json")
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            self._chunks(body, pieces, stop, usage, groq=groq, with_usage=with_usage),
            media_type="text/event-stream",
        )

    async def _chunks(
        self,
        body: dict[str, Any],
        pieces: list[str],
        stop: str,
        usage: dict[str, int],
        *,
        groq: bool,
        with_usage: bool,
    ) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> bytes:
            data = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body.get("model", ""),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + orjson.dumps(data) + b"\n\n"

        yield chunk({"role": "assistant", "content": ""}, None)
        async for i, piece in self._tokens(pieces):
            if i < 0:
                yield b"data: {not json\n\n"
                return
            yield chunk({"content": piece}, None)
        if groq:
            yield chunk({}, stop, x_groq={"id": "req_1", "usage": usage})
        else:
            yield chunk({}, stop)
            if with_usage:
                data = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": body.get("model", ""),
                    "choices": [],
                    "usage": usage,
                }
                yield b"data: " + orjson.dumps(data) + b"\n\n"
        yield b"data: [DONE]\n\n"

    # -- embeddings ---------------------------------------------------------------------------

    async def _embeddings(self, request: Request) -> Response:
        body = await self._record(request)
        failure = self._scripted_status(anthropic=False)
        if failure is not None:
            return failure
        if self.script.first_delay:
            await asyncio.sleep(self.script.first_delay)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        size = int(body.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": embed(text, size)}
            for i, text in enumerate(texts)
        ]
        tokens = sum(len(str(text).split()) for text in texts)
        answer = {
            "object": "list",
            "data": data,
            "model": body.get("model", ""),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(orjson.dumps(answer), media_type="application/json")


def embed(text: Any, size: int = 8) -> list[float]:
    """The loopback's vector for ``text``: from its hash, so one text always gives one vector."""
    digest = hashlib.sha256(str(text).encode()).digest()
    return [round((digest[i % len(digest)] - 127.5) / 127.5, 6) for i in range(size)]


def _anthropic_message(
    body: dict[str, Any], content: list[Any], stop: str | None, usage: Any
) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def _json_pieces(value: Any) -> list[str]:
    """A structured answer's JSON text, cut in pieces as a model streams it."""
    text = orjson.dumps(value).decode()
    return [text[i : i + 8] for i in range(0, len(text), 8)] or [text]


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@contextmanager
def provider_server() -> Iterator[ProviderServer]:
    """Serve a ``ProviderServer`` under uvicorn in a thread on a free loopback port."""
    provider = ProviderServer()
    port = free_port()
    config = uvicorn.Config(
        provider.app, host="127.0.0.1", port=port, lifespan="off", ws="none",
        log_level="critical",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the loopback provider did not start")
        time.sleep(0.01)
    provider.url = f"http://127.0.0.1:{port}"
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
