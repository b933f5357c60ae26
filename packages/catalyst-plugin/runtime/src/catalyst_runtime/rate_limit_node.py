"""The ``rate_limit`` node at run time: wait for a slot on a key, or answer 429.

Generated code builds one limiter per node at module level, once per process, and calls
``await rate_limit(ctx, "throttle", _throttle_limiter, f"user:{inp.user}", timeout=2.0)``
in the node. The limiter is an ``InMemoryRateLimiter`` (this process only) or a
``RedisRateLimiter`` on the service's Redis pool (every process sharing that Redis), named after
the node and, in Redis, keyed under ``catalyst:rl:<workflow>:<node>:``, so two nodes never share
a limit.

A slot further away than ``timeout`` seconds is refused at once: ``RateLimitExceeded`` (429,
naming the node, with ``Retry-After``). Otherwise the node sleeps until its slot and returns
``{"waited": seconds}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import CatalystError, NodeError, node_error

if TYPE_CHECKING:
    from .context import ExecutionContext
    from .rate_limit import RateLimiter

__all__ = ["rate_limit"]


async def rate_limit(
    ctx: ExecutionContext,
    node_id: str,
    limiter: RateLimiter,
    key: Any,
    *,
    timeout: float,  # noqa: ASYNC109 (decides up front whether to wait; see rate_limit.py)
) -> dict[str, Any]:
    """Take a slot on ``key`` from ``limiter`` waiting at most ``timeout`` seconds (0: no
    wait) and return ``{"waited": seconds}``.

    The key must be text or a number (booleans as ``true``/``false``); anything else fails the
    node (500). No slot within ``timeout``: ``RateLimitExceeded`` (429, ``Retry-After``). A Redis
    failure is a 502 naming the node, a Redis timeout a 504; no message quotes the key.
    """
    del ctx  # the limiter holds its state; the context is taken for symmetry with other nodes
    text = _key(node_id, key)
    try:
        waited = await limiter.acquire(text, timeout=timeout)
    except CatalystError:
        raise
    except Exception as exc:
        raise node_error(node_id, exc) from exc
    return {"waited": waited}


def _key(node_id: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    kind = "null" if value is None else type(value).__name__
    raise NodeError(node_id, f"the rate-limit key is {kind}; it must be text or a number")
