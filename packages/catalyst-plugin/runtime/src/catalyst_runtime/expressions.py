"""What generated expressions call at run time, beyond plain Python."""

from __future__ import annotations

from typing import Any

__all__ = ["item_at"]


def item_at(items: Any, index: Any) -> Any:
    """``items[index]``, or ``None`` when there is no such item: an index under ``| default``
    (``{{ input.tags[5] | default("x") }}``), where a short list, or unknown data without that
    key, gives the default rather than failing the request. A wrong kind of index still fails.
    """
    try:
        return items[index]
    except (IndexError, KeyError):
        return None
