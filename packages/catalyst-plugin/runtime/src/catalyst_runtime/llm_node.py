"""The ``llm`` node at run time: one answer from Anthropic, OpenAI or Groq through their SDKs.

Generated code calls, once per node::

    await llm_call(ctx, "answer", "anthropic", model="claude-...", prompt=f"...", max_tokens=512,
                   api_key=ctx.secrets["ANTHROPIC_API_KEY"], stream=True)

and gets ``{"text", "usage": {"input_tokens", "output_tokens"}, "stop_reason"}``, plus
``"output"`` (the validated value) when the node has an ``output_schema`` (``StructuredOutput``).
The client is the provider's SDK client on the service's pools (``llm_providers``), never one
made for the request.

- ``stream=True``: the SDK's stream is read delta by delta; each delta goes to
  ``ctx.events.token`` at once when the run is streamed, and the text is kept for the output
  either way. A cancelled run (the client left) closes the stream (``async with``).
- Retries: a 429, a 5xx, a connection failure or a provider timeout before the first token is
  tried again up to ``CATALYST_LLM_RETRIES`` times, waiting ``CATALYST_LLM_RETRY_BACKOFF``
  doubled each time (or the provider's ``Retry-After``, when it fits in the node's time). Once a
  token has been passed on nothing is retried: the client has seen part of an answer.
- Failures name the node, never quote the provider (its message may quote the prompt) nor a key:
  429 -> ``ProviderRateLimited`` (429, ``Retry-After``), refusals, 5xx, malformed or dropped
  streams -> ``UpstreamError`` (502), the node's time -> ``NodeTimeoutError`` (504).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson
from pydantic import BaseModel, ValidationError

from .errors import (
    CatalystError,
    ConfigError,
    NodeError,
    NodeTimeoutError,
    ProviderRateLimited,
    UpstreamError,
)

if TYPE_CHECKING:
    from .context import ExecutionContext
    from .llm_providers import ProviderClients
    from .rate_limit import RateLimiter

__all__ = ["MAX_MESSAGES", "MAX_TOKENS", "StructuredOutput", "llm_call"]

MAX_TOKENS: Final = 200_000
"""The largest ``max_tokens`` a node may ask for (the compiler holds the definition to it)."""

MAX_MESSAGES: Final = 1000
"""The most messages one call may send."""

TOOL_NAME: Final = "output"
"""The tool an Anthropic call with an output schema is made to use: its input is the answer."""

ROLES: Final = frozenset(("user", "assistant"))


class StructuredOutput:
    """An ``output_schema``: the JSON Schema sent to the provider, and the pydantic model the
    compiler made from it, which the answer must fit. Built once per node at import."""

    __slots__ = ("model", "schema")

    def __init__(self, model: type[BaseModel], schema: Mapping[str, Any]) -> None:
        self.model = model
        self.schema = dict(schema)

    def parse(self, answer: Any) -> dict[str, Any]:
        """The answer (JSON text, or a tool use's input) as plain JSON values; raises
        ``ValidationError`` (or ``ValueError`` for text that is not JSON) when it does not fit."""
        value = (
            self.model.model_validate_json(answer)
            if isinstance(answer, str)
            else self.model.model_validate(answer)
        )
        return value.model_dump(mode="json", by_alias=True)

    def __repr__(self) -> str:
        return f"StructuredOutput({self.model.__name__})"


@dataclass(slots=True)
class _Request:
    model: str
    messages: list[dict[str, str]]
    system: str | None
    max_tokens: int
    temperature: float | None
    stop: list[str] | None
    output: StructuredOutput | None


@dataclass(slots=True)
class _Answer:
    parts: list[str] = field(default_factory=list)
    chars: int = 0
    structured: Any = None
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    sent: bool = False
    """A token was passed on to the client: the call must not be retried."""


class _TooLong(Exception):
    pass


async def llm_call(
    ctx: ExecutionContext,
    node_id: str,
    provider: str,
    *,
    model: str,
    prompt: Any = None,
    messages: Any = None,
    system: Any = None,
    max_tokens: int = 1024,
    temperature: float | None = None,
    stop: Sequence[str] | None = None,
    base_url: Any = None,
    api_key: Any = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the node's own deadline, from the definition
    stream: bool = False,
    output: StructuredOutput | None = None,
    retries: int = 1,
    limiter: RateLimiter | None = None,
    wait: float = 0.0,
) -> dict[str, Any]:
    """One answer from ``provider`` (see the module's docstring).

    ``prompt`` (text, sent as one user message) or ``messages`` (``[{"role": "user" |
    "assistant", "content": text}]``); ``system`` text. ``timeout``: seconds for the whole call,
    retries included (``CATALYST_LLM_TIMEOUT``, 120, by default). ``retries``: extra attempts
    at an answer that does not fit ``output``. ``limiter``: a rate limit on the node's calls
    (each attempt takes a slot, waiting at most ``wait`` seconds; else 429).
    """
    pools = ctx.pools
    if pools is None:
        raise ConfigError("pools", "this workflow has llm nodes but the context has no pools")
    clients: ProviderClients = pools.provider(provider)
    settings = pools.settings
    request = _Request(
        model=model,
        messages=_messages(node_id, prompt, messages),
        system=_text(node_id, "system", system),
        max_tokens=max_tokens,
        temperature=temperature,
        stop=list(stop) if stop else None,
        output=output,
    )
    if not 1 <= max_tokens <= MAX_TOKENS:
        raise ValueError(f"max_tokens must be 1 to {MAX_TOKENS}; got {max_tokens}")
    client = clients.get(_text(node_id, "base_url", base_url), _text(node_id, "api_key", api_key))
    adapter = _ANTHROPIC if provider == "anthropic" else _OPENAI
    events = ctx.events if stream else None
    seconds = settings.llm_timeout if timeout is None else timeout
    limit = settings.llm_max_answer_chars

    def on_delta(answer: _Answer, text: str) -> None:
        answer.parts.append(text)
        answer.chars += len(text)
        if answer.chars > limit:
            raise _TooLong
        if events is not None:
            events.token(node_id, text)
            answer.sent = True

    async def attempt() -> _Answer:
        if limiter is not None:
            await limiter.acquire("calls", timeout=wait)
        if stream:
            return await adapter.stream(client, request, on_delta)
        answer = await adapter.complete(client, request)
        if answer.chars > limit:
            raise _TooLong
        return answer

    try:
        async with asyncio.timeout(seconds):
            answer = await _with_retries(clients, node_id, attempt, settings, seconds)
            for _ in range(retries):
                if output is None or _fits(output, answer) or answer.sent:
                    break
                answer = await _with_retries(clients, node_id, attempt, settings, seconds)
    except TimeoutError:
        raise NodeTimeoutError(node_id, f"{provider} did not answer within {seconds:g} s") from None
    return _result(node_id, answer, output, limit)


# One vocabulary whatever the provider, so a workflow branches on ``stop_reason`` the same way
# for each: Anthropic's words, which already name every case, with OpenAI's and Groq's mapped
# onto them. A word not listed (a provider's new one, such as Anthropic's ``pause_turn``) is
# passed on as the provider gave it.
_STOP_REASONS: Final[dict[str, str]] = {
    "end_turn": "end_turn",
    "stop": "end_turn",
    "max_tokens": "max_tokens",
    "length": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "refusal": "content_filter",
    "content_filter": "content_filter",
}


def stop_reason(raw: str | None, *, structured: bool) -> str | None:
    """The provider's reason for ending the answer in the node's vocabulary (``end_turn``,
    ``max_tokens``, ``stop_sequence``, ``tool_use``, ``content_filter``), ``None`` if it sent none.

    With an ``output_schema`` Anthropic ends on the forced tool (``tool_use``): that is the
    answer being complete, as OpenAI's ``stop`` is, so it reads ``end_turn`` too.
    """
    if raw is None:
        return None
    reason = _STOP_REASONS.get(raw, raw)
    if structured and reason == "tool_use":
        return "end_turn"
    return reason


def _fits(output: StructuredOutput, answer: _Answer) -> bool:
    try:
        output.parse(_structured(answer))
    except (ValidationError, ValueError):
        return False
    return True


def _structured(answer: _Answer) -> Any:
    return answer.structured if answer.structured is not None else "".join(answer.parts)


def _result(
    node_id: str, answer: _Answer, output: StructuredOutput | None, limit: int
) -> dict[str, Any]:
    text = "".join(answer.parts)
    result: dict[str, Any] = {
        "text": text,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
        "stop_reason": stop_reason(answer.stop_reason, structured=output is not None),
    }
    if output is not None:
        try:
            result["output"] = output.parse(_structured(answer))
        except (ValidationError, ValueError):
            # Only the count of problems: the answer itself may quote the prompt.
            raise UpstreamError(
                node_id, "the answer does not match the node's output_schema"
            ) from None
        if answer.structured is not None and not text:
            result["text"] = orjson.dumps(answer.structured).decode()
    return result


async def _with_retries(
    clients: ProviderClients,
    node_id: str,
    attempt: Callable[[], Awaitable[_Answer]],
    settings: Any,
    seconds: float,
) -> _Answer:
    """``attempt()``, again after a retryable failure before the first token was passed on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    backoff = settings.llm_retry_backoff
    for tries in range(settings.llm_retries + 1):
        try:
            return await attempt()
        except CatalystError:
            raise
        except _TooLong:
            raise UpstreamError(
                node_id,
                f"the answer is longer than CATALYST_LLM_MAX_ANSWER_CHARS "
                f"({settings.llm_max_answer_chars})",
            ) from None
        except _Started as started:
            raise _final(_failure(clients, node_id, started.cause, seconds)) from None
        except Exception as exc:
            error = _failure(clients, node_id, exc, seconds)
            retryable = isinstance(error, (ProviderRateLimited, _Retryable))
            if not retryable or tries == settings.llm_retries:
                raise _final(error) from None
            delay = backoff * 2**tries
            after = error.retry_after if isinstance(error, ProviderRateLimited) else None
            if after is not None:
                delay = max(delay, after)
            if loop.time() + delay >= deadline:
                raise _final(error) from None
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


class _Retryable(Exception):
    """A failure worth another attempt (5xx, no connection, the provider's timeout), holding
    the error to raise when no attempt is left."""

    def __init__(self, error: CatalystError) -> None:
        super().__init__(error.message)
        self.error = error


def _final(error: CatalystError | _Retryable) -> CatalystError:
    return error.error if isinstance(error, _Retryable) else error


class _Started(Exception):
    """A stream failed after a token was passed on: never retried."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


@contextmanager
def _failures_after_tokens(answer: _Answer) -> Iterator[None]:
    """Around a provider's stream: once a token was passed on, a failure cannot be retried, so
    it becomes ``_Started``; the answer limit and a cancellation pass as they are."""
    try:
        yield
    except (_TooLong, asyncio.CancelledError):
        raise
    except Exception as exc:
        if answer.sent:
            raise _Started(exc) from exc
        raise


def _failure(clients: ProviderClients, node_id: str, exc: BaseException, seconds: float) -> Any:
    """The runtime's error for a failed call (``_Retryable`` around it when worth retrying);
    named after the provider and the status, never quoting what the provider said."""
    m = clients.module
    name = clients.name
    if isinstance(exc, m.APITimeoutError) or _transport(exc, "TimeoutException"):
        return _Retryable(NodeTimeoutError(node_id, f"{name} did not answer in time"))
    if isinstance(exc, m.APIConnectionError) or _transport(exc, "TransportError"):
        why = type(exc.__cause__ or exc).__name__
        return _Retryable(UpstreamError(node_id, f"the connection to {name} failed ({why})"))
    if isinstance(exc, m.APIStatusError) and not isinstance(exc, m.APIResponseValidationError):
        status = exc.status_code
        if status == 429:
            return ProviderRateLimited(node_id, name, _retry_after(exc.response.headers))
        error = UpstreamError(node_id, f"{name} answered {status}")
        if status >= 500 or status in (408, 409):
            return _Retryable(error)
        if status in (401, 403):
            error = UpstreamError(node_id, f"{name} refused the API key ({status})")
        return error
    if isinstance(exc, NodeError):
        return exc
    return UpstreamError(node_id, f"{name} sent an answer that could not be read")


def _transport(exc: BaseException, kind: str) -> bool:
    """A transport failure while a stream is read (the SDK wraps only those before it)."""
    for module in ("httpx", "httpx2"):
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, kind)):
            return True
    return False


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: rare from these providers; let the backoff decide
    return seconds if seconds is not None and 0 <= seconds <= 3600 else None


def _text(node_id: str, what: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise NodeError(node_id, f"{what} is {type(value).__name__}; it must be text")


def _messages(node_id: str, prompt: Any, messages: Any) -> list[dict[str, str]]:
    if prompt is not None:
        text = _text(node_id, "the prompt", prompt)
        return [{"role": "user", "content": text or ""}]
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise NodeError(
            node_id, f"messages must be a list of 1 to {MAX_MESSAGES} {{role, content}} objects"
        )
    out = []
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if role not in ROLES or not isinstance(content, str):
            raise NodeError(
                node_id,
                f'message {i} must be {{"role": "user" or "assistant", "content": text}}',
            )
        out.append({"role": role, "content": content})
    return out


# -- providers ---------------------------------------------------------------------------------

OnDelta = Callable[[_Answer, str], None]


class _AnthropicAdapter:
    """Anthropic Messages: ``system`` apart, a forced tool use for structured output."""

    def kwargs(self, r: _Request) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": r.model, "max_tokens": r.max_tokens, "messages": r.messages}
        if r.system is not None:
            kw["system"] = r.system
        if r.temperature is not None:
            # The SDK (2.x) no longer takes it, as current models do not; older ones still do.
            kw["extra_body"] = {"temperature": r.temperature}
        if r.stop:
            kw["stop_sequences"] = r.stop
        if r.output is not None:
            kw["tools"] = [
                {
                    "name": TOOL_NAME,
                    "description": "Give the answer as this tool's input.",
                    "input_schema": r.output.schema,
                }
            ]
            kw["tool_choice"] = {"type": "tool", "name": TOOL_NAME}
        return kw

    async def complete(self, client: Any, r: _Request) -> _Answer:
        message = await client.messages.create(**self.kwargs(r))
        answer = _Answer(
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            stop_reason=message.stop_reason,
        )
        for block in message.content:
            if block.type == "text":
                answer.parts.append(block.text)
                answer.chars += len(block.text)
            elif block.type == "tool_use" and block.name == TOOL_NAME:
                answer.structured = block.input
        return answer

    async def stream(self, client: Any, r: _Request, on_delta: OnDelta) -> _Answer:
        answer = _Answer()
        events = await client.messages.create(**self.kwargs(r), stream=True)
        async with events:
            with _failures_after_tokens(answer):
                async for event in events:
                    kind = event.type
                    if kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            on_delta(answer, delta.text)
                        elif delta.type == "input_json_delta":
                            on_delta(answer, delta.partial_json)
                    elif kind == "message_start":
                        answer.input_tokens = event.message.usage.input_tokens
                    elif kind == "message_delta":
                        answer.stop_reason = event.delta.stop_reason
                        answer.output_tokens = event.usage.output_tokens
        return answer


class _OpenAIAdapter:
    """OpenAI chat completions (and Groq, and OpenAI-compatible servers): the system prompt as
    the first message, ``response_format`` json_schema for structured output."""

    def kwargs(self, client: Any, r: _Request) -> dict[str, Any]:
        messages = r.messages
        if r.system is not None:
            messages = [{"role": "system", "content": r.system}, *messages]
        kw: dict[str, Any] = {"model": r.model, "messages": messages}
        kw[_token_limit_param(client)] = r.max_tokens
        if r.temperature is not None:
            kw["temperature"] = r.temperature
        if r.stop:
            kw["stop"] = r.stop
        if r.output is not None:
            kw["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": TOOL_NAME, "schema": r.output.schema},
            }
        return kw

    async def complete(self, client: Any, r: _Request) -> _Answer:
        completion = await client.chat.completions.create(**self.kwargs(client, r))
        answer = _Answer()
        if completion.choices:
            choice = completion.choices[0]
            text = choice.message.content or ""
            answer.parts.append(text)
            answer.chars = len(text)
            answer.stop_reason = choice.finish_reason
        _usage(answer, completion.usage)
        return answer

    async def stream(self, client: Any, r: _Request, on_delta: OnDelta) -> _Answer:
        answer = _Answer()
        kw = self.kwargs(client, r)
        if type(client).__module__.startswith("openai"):
            kw["stream_options"] = {"include_usage": True}  # Groq sends usage unasked
        chunks = await client.chat.completions.create(**kw, stream=True)
        async with chunks:
            with _failures_after_tokens(answer):
                async for chunk in chunks:
                    if chunk.choices:
                        choice = chunk.choices[0]
                        if choice.delta.content:
                            on_delta(answer, choice.delta.content)
                        if choice.finish_reason is not None:
                            answer.stop_reason = choice.finish_reason
                    usage = chunk.usage or getattr(getattr(chunk, "x_groq", None), "usage", None)
                    _usage(answer, usage)
        return answer


# OpenAI's own API and Groq's call the answer's limit ``max_completion_tokens`` (``max_tokens`` is
# deprecated there, and OpenAI's reasoning models refuse it); OpenAI-compatible servers (Ollama,
# vLLM, gateways) know ``max_tokens``, and one that ignored the new name would leave the answer
# unbounded. So the name follows the endpoint the client actually sends to (its ``base_url``,
# from the definition, the SDK's variable or its default).
_NEW_TOKEN_LIMIT_HOSTS: Final = frozenset(("api.openai.com", "api.groq.com"))


def _token_limit_param(client: Any) -> str:
    if client.base_url.host in _NEW_TOKEN_LIMIT_HOSTS:
        return "max_completion_tokens"
    return "max_tokens"


def _usage(answer: _Answer, usage: Any) -> None:
    if usage is not None:
        answer.input_tokens = usage.prompt_tokens or 0
        answer.output_tokens = usage.completion_tokens or 0


_ANTHROPIC: Final = _AnthropicAdapter()
_OPENAI: Final = _OpenAIAdapter()
