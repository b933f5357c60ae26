"""Settings from the environment and an optional ``.env`` file, checked once at start-up.

Every problem names the variable and the form it expects. Values that may hold a password (the
database and Redis URLs, API keys) are never echoed in a message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from dotenv import dotenv_values

from .errors import ConfigError

__all__ = ["Settings", "load_env_file", "missing_variables", "read_env_file"]

_POSTGRES_SCHEMES = ("postgres://", "postgresql://")
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_HTTP_SCHEMES = ("http://", "https://")


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``KEY=value`` pairs of a ``.env`` file (python-dotenv's syntax); missing file: empty.

    Values are taken literally: no ``${VAR}`` interpolation, so a value can never pull in
    another variable by surprise.
    """
    if not Path(path).is_file():
        return {}
    values = dotenv_values(path, interpolate=False, encoding="utf-8")
    return {key: value for key, value in values.items() if value is not None}


def load_env_file(path: str | os.PathLike[str] = ".env") -> None:
    """Put a ``.env`` file's values into ``os.environ`` where the variable is not already set.

    Called once at start-up, so that secrets kept in ``.env`` resolve exactly like exported ones
    (``ExecutionContext.secrets`` reads the process environment).
    """
    for key, value in read_env_file(path).items():
        os.environ.setdefault(key, value)


def missing_variables(names: Iterable[str]) -> list[str]:
    """Which of ``names`` the process environment does not set (sorted)."""
    return sorted({name for name in names if name not in os.environ})


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            name, f"expected a whole number >= {minimum}, like {default}; got {raw!r}"
        ) from None
    if value < minimum:
        raise ConfigError(name, f"expected a whole number >= {minimum}; got {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, *, zero: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(
            name, f"expected a number of seconds, like {default:g}; got {raw!r}"
        ) from None
    if not (value >= 0 if zero else value > 0) or value == float("inf"):
        what = "a number of seconds, 0 or more" if zero else "a positive number of seconds"
        raise ConfigError(name, f"expected {what}; got {raw!r}")
    return value


def _path(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.startswith("/") or any(c.isspace() or c in "?#{}" for c in raw):
        raise ConfigError(name, f"expected a URL path like {default}; got {raw!r}")
    return raw


_ON: Final = ("on", "true", "1", "yes")
_SWITCH: Final = (*_ON, "off", "false", "0", "no")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in choices:
        raise ConfigError(name, f"expected one of {', '.join(choices)}; got {raw!r}")
    return raw.lower()


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...], example: str) -> str | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return None
    if not raw.startswith(schemes):
        # Do not echo the value: a URL may carry a password.
        expected = " or ".join(schemes)
        raise ConfigError(name, f"expected a URL starting with {expected}, like {example}")
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    """What the pools need. Build with ``Settings.from_env()``; every field has a default.

    =============================== ============================== =========
    variable                        field                          default
    =============================== ============================== =========
    ``DATABASE_URL``                ``postgres_dsn``               none
    ``CATALYST_POSTGRES_MIN_SIZE``  ``postgres_min_size``          1
    ``CATALYST_POSTGRES_MAX_SIZE``  ``postgres_max_size``          10
    ``REDIS_URL``                   ``redis_url``                  none
    ``CATALYST_REDIS_MAX_CONNECTIONS`` ``redis_max_connections``   100
    ``QDRANT_URL``                  ``qdrant_url`` (a server)      none
    ``QDRANT_API_KEY``              ``qdrant_api_key``             none
    ``CATALYST_QDRANT_PATH``        ``qdrant_path`` (local mode)   none: in memory
    ``CATALYST_QDRANT_TIMEOUT``     ``qdrant_timeout`` (s)         10
    ``CATALYST_HTTP_MAX_CONNECTIONS`` ``http_max_connections``     200
    ``CATALYST_HTTP_MAX_KEEPALIVE`` ``http_max_keepalive``         100
    ``CATALYST_HTTP_TIMEOUT``       ``http_timeout`` (s)           30
    ``CATALYST_HTTP_CONNECT_TIMEOUT`` ``http_connect_timeout`` (s) 5
    ``CATALYST_LLM_MAX_CONNECTIONS`` ``llm_max_connections``       50
    ``CATALYST_LLM_TIMEOUT``        ``llm_timeout`` (s)            120
    ``CATALYST_LLM_RETRIES``        ``llm_retries``                2
    ``CATALYST_LLM_RETRY_BACKOFF``  ``llm_retry_backoff`` (s)      0.5
    ``CATALYST_LLM_MAX_ANSWER_CHARS`` ``llm_max_answer_chars``     1000000
    ``CATALYST_HTTP_MAX_RESPONSE_BYTES`` ``http_max_response_bytes`` 4 MiB
    ``CATALYST_MAX_BODY_BYTES``     ``max_body_bytes``             1 MiB
    ``CATALYST_BODY_TIMEOUT``       ``body_timeout`` (s)           30
    ``CATALYST_MAX_VALIDATION_ERRORS`` ``max_validation_errors``   20
    ``CATALYST_MAX_HEADER_BYTES``   ``max_header_bytes``           16 KiB
    ``CATALYST_HEADER_TIMEOUT``     ``header_timeout`` (s)         10
    ``CATALYST_KEEP_ALIVE_TIMEOUT`` ``keep_alive_timeout`` (s)     5
    ``CATALYST_MAX_CONNECTIONS``    ``max_connections``            512
    ``CATALYST_SHUTDOWN_TIMEOUT``   ``shutdown_timeout`` (s)       20
    ``CATALYST_LOG_REPEAT_SECONDS`` ``log_repeat_seconds`` (s)     10
    ``CATALYST_LOG_FORMAT``         ``log_format``                 auto
    ``CATALYST_HEALTH_PATH``        ``health_path``                /healthz
    ``CATALYST_READY_PATH``         ``ready_path``                 /readyz
    ``CATALYST_READY_TIMEOUT``      ``ready_timeout`` (s)          1
    ``CATALYST_DRAIN_SECONDS``      ``drain_seconds`` (s)          0
    ``CATALYST_METRICS``            ``metrics``                    off
    ``CATALYST_METRICS_PATH``       ``metrics_path``               /metrics
    ``CATALYST_MAX_MAP_ITEMS``      ``max_map_items``              1000
    ``CATALYST_CACHE_MAX_ENTRIES``  ``cache_max_entries``          1000
    ``CATALYST_CACHE_MAX_VALUE_BYTES`` ``cache_max_value_bytes``   1 MiB
    ``CATALYST_CACHE_TIMEOUT``      ``cache_timeout`` (s)          0.5
    ``CATALYST_STREAM_MAX_BUFFERED_BYTES`` ``stream_max_buffered_bytes`` 1 MiB
    ``CATALYST_TRACING``            ``tracing``                    off
    ``CATALYST_COMPILED_ROUTES``    ``compiled_routes``            on
    =============================== ============================== =========

    ``max_map_items`` bounds the list a ``map`` node runs over (``run_map``). From
    ``CATALYST_HTTP_MAX_RESPONSE_BYTES`` to ``CATALYST_LOG_REPEAT_SECONDS`` they are the
    service's own limits: ``read_input`` applies the body ones, ``serve``
    the connection ones (docs/runtime.md, "Limits"). The cache ones bound a cached node
    (``NodeCache``): entries in each memory cache, the largest value kept, and how long a Redis
    cache read or write may take before it counts as a miss. ``stream_max_buffered_bytes``
    bounds the events a streamed run holds for a client that reads slowly (``stream_run``).
    """

    postgres_dsn: str | None = None
    postgres_min_size: int = 1
    postgres_max_size: int = 10
    redis_url: str | None = None
    redis_max_connections: int = 100
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_path: str | None = None
    qdrant_timeout: float = 10.0
    http_max_connections: int = 200
    http_max_keepalive: int = 100
    http_timeout: float = 30.0
    http_connect_timeout: float = 5.0
    llm_max_connections: int = 50
    llm_timeout: float = 120.0
    llm_retries: int = 2
    """Extra attempts at an LLM or embedding call answered 429 or 5xx, or not answered, before
    its first token (``llm_node``); never once a token has been sent on."""
    llm_retry_backoff: float = 0.5
    """The first wait between those attempts, doubled each time (a provider's Retry-After wins)."""
    llm_max_answer_chars: int = 1_000_000
    """The longest answer an ``llm`` node keeps; a longer one fails the node (502)."""
    http_max_response_bytes: int = 4 * 1024 * 1024
    max_body_bytes: int = 1024 * 1024
    body_timeout: float = 30.0
    max_validation_errors: int = 20
    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 512
    shutdown_timeout: float = 20.0
    log_repeat_seconds: float = 10.0
    log_format: str = "auto"
    """``json`` (one JSON object a line), ``text``, or ``auto``: text on a terminal, else JSON."""
    health_path: str = "/healthz"
    ready_path: str = "/readyz"
    ready_timeout: float = 1.0
    """How long ``/readyz`` waits for each pool's answer before calling it not ready."""
    drain_seconds: float = 0.0
    """After SIGTERM, how long ``serve`` keeps serving with ``/readyz`` answering 503."""
    metrics: bool = False
    """``GET /metrics`` in the Prometheus format (needs ``catalyst-runtime[metrics]``)."""
    metrics_path: str = "/metrics"
    max_map_items: int = 1000
    """The most items a ``map`` node runs over; more is a 422 naming the node."""
    cache_max_entries: int = 1000
    cache_max_value_bytes: int = 1024 * 1024
    cache_timeout: float = 0.5
    stream_max_buffered_bytes: int = 1024 * 1024
    """How many bytes of a streamed run's events may wait for a slow client; past it the run is
    stopped and the stream ends with an ``error`` event (``stream_overflow``)."""
    tracing: bool = False
    """OpenTelemetry traces over OTLP (needs ``catalyst-runtime[tracing]``)."""
    compiled_routes: bool = True
    """Workflow routes answered by the compiled request path (``compiled_routes``); off, FastAPI
    routes every request (the same answers, slower: a way back if a difference is ever found)."""

    def __post_init__(self) -> None:
        if self.health_path == self.ready_path:
            raise ConfigError(
                "CATALYST_READY_PATH", f"must differ from CATALYST_HEALTH_PATH ({self.health_path})"
            )
        if self.metrics and self.metrics_path in (self.health_path, self.ready_path):
            raise ConfigError(
                "CATALYST_METRICS_PATH", f"must differ from the probes' paths ({self.metrics_path})"
            )
        if self.qdrant_url is not None and self.qdrant_path is not None:
            raise ConfigError(
                "CATALYST_QDRANT_PATH",
                "set either QDRANT_URL (a Qdrant server) or CATALYST_QDRANT_PATH (local mode, "
                "one process), not both",
            )
        if self.postgres_min_size > self.postgres_max_size:
            raise ConfigError(
                "CATALYST_POSTGRES_MIN_SIZE",
                f"must not exceed CATALYST_POSTGRES_MAX_SIZE ({self.postgres_max_size}); "
                f"got {self.postgres_min_size}",
            )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
    ) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``) over the ``env_file`` values."""
        env: dict[str, str] = dict(read_env_file(env_file)) if env_file is not None else {}
        env.update(os.environ if environ is None else environ)
        d = cls()
        return cls(
            postgres_dsn=_url(env, "DATABASE_URL", _POSTGRES_SCHEMES, "postgresql://user@host/db"),
            postgres_min_size=_int(env, "CATALYST_POSTGRES_MIN_SIZE", d.postgres_min_size, 0),
            postgres_max_size=_int(env, "CATALYST_POSTGRES_MAX_SIZE", d.postgres_max_size),
            redis_url=_url(env, "REDIS_URL", _REDIS_SCHEMES, "redis://localhost:6379/0"),
            redis_max_connections=_int(
                env, "CATALYST_REDIS_MAX_CONNECTIONS", d.redis_max_connections
            ),
            qdrant_url=_url(env, "QDRANT_URL", _HTTP_SCHEMES, "http://localhost:6333"),
            qdrant_api_key=env.get("QDRANT_API_KEY") or None,
            qdrant_path=env.get("CATALYST_QDRANT_PATH") or None,
            qdrant_timeout=_seconds(env, "CATALYST_QDRANT_TIMEOUT", d.qdrant_timeout),
            http_max_connections=_int(env, "CATALYST_HTTP_MAX_CONNECTIONS", d.http_max_connections),
            http_max_keepalive=_int(env, "CATALYST_HTTP_MAX_KEEPALIVE", d.http_max_keepalive, 0),
            http_timeout=_seconds(env, "CATALYST_HTTP_TIMEOUT", d.http_timeout),
            http_connect_timeout=_seconds(
                env, "CATALYST_HTTP_CONNECT_TIMEOUT", d.http_connect_timeout
            ),
            llm_max_connections=_int(env, "CATALYST_LLM_MAX_CONNECTIONS", d.llm_max_connections),
            llm_timeout=_seconds(env, "CATALYST_LLM_TIMEOUT", d.llm_timeout),
            llm_retries=_int(env, "CATALYST_LLM_RETRIES", d.llm_retries, 0),
            llm_retry_backoff=_seconds(
                env, "CATALYST_LLM_RETRY_BACKOFF", d.llm_retry_backoff, zero=True
            ),
            llm_max_answer_chars=_int(env, "CATALYST_LLM_MAX_ANSWER_CHARS", d.llm_max_answer_chars),
            http_max_response_bytes=_int(
                env, "CATALYST_HTTP_MAX_RESPONSE_BYTES", d.http_max_response_bytes
            ),
            max_body_bytes=_int(env, "CATALYST_MAX_BODY_BYTES", d.max_body_bytes),
            body_timeout=_seconds(env, "CATALYST_BODY_TIMEOUT", d.body_timeout),
            max_validation_errors=_int(
                env, "CATALYST_MAX_VALIDATION_ERRORS", d.max_validation_errors
            ),
            max_header_bytes=_int(env, "CATALYST_MAX_HEADER_BYTES", d.max_header_bytes),
            header_timeout=_seconds(env, "CATALYST_HEADER_TIMEOUT", d.header_timeout),
            keep_alive_timeout=_seconds(env, "CATALYST_KEEP_ALIVE_TIMEOUT", d.keep_alive_timeout),
            max_connections=_int(env, "CATALYST_MAX_CONNECTIONS", d.max_connections),
            shutdown_timeout=_seconds(env, "CATALYST_SHUTDOWN_TIMEOUT", d.shutdown_timeout),
            log_repeat_seconds=_seconds(env, "CATALYST_LOG_REPEAT_SECONDS", d.log_repeat_seconds),
            log_format=_choice(env, "CATALYST_LOG_FORMAT", d.log_format, ("auto", "json", "text")),
            health_path=_path(env, "CATALYST_HEALTH_PATH", d.health_path),
            ready_path=_path(env, "CATALYST_READY_PATH", d.ready_path),
            ready_timeout=_seconds(env, "CATALYST_READY_TIMEOUT", d.ready_timeout),
            drain_seconds=_seconds(env, "CATALYST_DRAIN_SECONDS", d.drain_seconds, zero=True),
            metrics=_choice(env, "CATALYST_METRICS", "off", _SWITCH) in _ON,
            metrics_path=_path(env, "CATALYST_METRICS_PATH", d.metrics_path),
            max_map_items=_int(env, "CATALYST_MAX_MAP_ITEMS", d.max_map_items),
            cache_max_entries=_int(env, "CATALYST_CACHE_MAX_ENTRIES", d.cache_max_entries),
            cache_max_value_bytes=_int(
                env, "CATALYST_CACHE_MAX_VALUE_BYTES", d.cache_max_value_bytes
            ),
            cache_timeout=_seconds(env, "CATALYST_CACHE_TIMEOUT", d.cache_timeout),
            stream_max_buffered_bytes=_int(
                env, "CATALYST_STREAM_MAX_BUFFERED_BYTES", d.stream_max_buffered_bytes
            ),
            tracing=_choice(env, "CATALYST_TRACING", "off", _SWITCH) in _ON,
            compiled_routes=_choice(env, "CATALYST_COMPILED_ROUTES", "on", _SWITCH) in _ON,
        )

    def __repr__(self) -> str:
        # URLs and keys may hold passwords: show only whether they are set.
        shown: list[str] = []
        for field in fields(self):
            value: Any = getattr(self, field.name)
            if field.name in {"postgres_dsn", "redis_url", "qdrant_url", "qdrant_api_key"}:
                value = "<set>" if value else None
            shown.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(shown)})"
