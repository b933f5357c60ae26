"""The ``embedding`` node at run time: vectors for one text or a batch, through the OpenAI SDK.

Generated code calls ``await embedding_call(ctx, "embed", "openai", inp.question,
model="text-embedding-3-small", api_key=ctx.secrets["OPENAI_API_KEY"])`` and gets
``{"vectors": [[...], ...], "usage": {"input_tokens": n}}``: one vector per text, in the order
given (a single text gives a list of one). Any OpenAI-compatible embeddings API will do
(``base_url``: Ollama, vLLM, a gateway). The same texts give the same vectors, so the node may be
cached (``cache:``); a hit skips the call and the rate limit.

Retries and errors are the ``llm`` node's (``llm_node``): 429 -> 429 naming the node, 5xx,
refusals and malformed answers -> 502, the node's time -> 504, none quoting the provider.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

from .errors import ConfigError, NodeError, NodeTimeoutError, UpstreamError
from .llm_node import _Answer, _text, _with_retries

if TYPE_CHECKING:
    from .context import ExecutionContext
    from .rate_limit import RateLimiter

__all__ = ["MAX_EMBEDDING_INPUTS", "embedding_call"]

MAX_EMBEDDING_INPUTS: Final = 2048
"""The most texts one call may embed (OpenAI's own bound on a batch)."""

MAX_DIMENSIONS: Final = 65536


async def embedding_call(
    ctx: ExecutionContext,
    node_id: str,
    provider: str,
    texts: Any,
    *,
    model: str,
    dimensions: int | None = None,
    base_url: Any = None,
    api_key: Any = None,
    timeout: float | None = None,  # noqa: ASYNC109 - the node's own deadline, from the definition
    limiter: RateLimiter | None = None,
    wait: float = 0.0,
) -> dict[str, Any]:
    """The vectors of ``texts`` (a text, or a list of 1 to ``MAX_EMBEDDING_INPUTS`` texts)."""
    pools = ctx.pools
    if pools is None:
        raise ConfigError("pools", "this workflow has embedding nodes but the context has no pools")
    clients = pools.provider(provider)
    settings = pools.settings
    batch = _batch(node_id, texts)
    if dimensions is not None and not 1 <= dimensions <= MAX_DIMENSIONS:
        raise ValueError(f"dimensions must be 1 to {MAX_DIMENSIONS}; got {dimensions}")
    client = clients.get(_text(node_id, "base_url", base_url), _text(node_id, "api_key", api_key))
    kw: dict[str, Any] = {"model": model, "input": batch, "encoding_format": "float"}
    if dimensions is not None:
        kw["dimensions"] = dimensions
    vectors: list[list[float]] = []

    async def attempt() -> _Answer:
        if limiter is not None:
            await limiter.acquire("calls", timeout=wait)
        answer = await client.embeddings.create(**kw)
        data = sorted(answer.data, key=lambda item: item.index)
        vectors[:] = [list(item.embedding) for item in data]
        usage = answer.usage
        return _Answer(input_tokens=(usage.prompt_tokens or 0) if usage is not None else 0)

    seconds = settings.llm_timeout if timeout is None else timeout
    try:
        async with asyncio.timeout(seconds):
            answer = await _with_retries(clients, node_id, attempt, settings, seconds)
    except TimeoutError:
        raise NodeTimeoutError(node_id, f"{provider} did not answer within {seconds:g} s") from None
    if len(vectors) != len(batch):
        raise UpstreamError(
            node_id, f"{provider} sent {len(vectors)} vectors for {len(batch)} texts"
        )
    return {"vectors": vectors, "usage": {"input_tokens": answer.input_tokens}}


def _batch(node_id: str, texts: Any) -> list[str]:
    batch = [texts] if isinstance(texts, str) else texts
    if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_EMBEDDING_INPUTS:
        raise NodeError(
            node_id,
            f"the input must be a text or a list of 1 to {MAX_EMBEDDING_INPUTS} texts",
        )
    for text in batch:
        if not isinstance(text, str) or not text:
            raise NodeError(node_id, "every input to embed must be a non-empty text")
    return batch
