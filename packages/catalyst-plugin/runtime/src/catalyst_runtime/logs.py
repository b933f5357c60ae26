"""What the service writes to its log: no secret values, and no flood of identical lines.

``create_app``'s lifespan calls ``install(settings, secrets=...)`` once the environment is read:

- ``SecretRedactor`` replaces, in every log record of the process (any logger, any level,
  whatever handlers are configured, the formatted traceback included), the values of the
  secrets the service declares, the passwords in ``DATABASE_URL`` and ``REDIS_URL``,
  ``QDRANT_API_KEY``, and the values of Authorization-like headers (``authorization``,
  ``proxy-authorization``, ``cookie``, ``set-cookie``, ``x-api-key``, ...) as httpx and
  httpcore print them at INFO and DEBUG level. It is installed as the log-record factory, the one
  place every record passes through whoever logs it, and is also a ``logging.Filter`` for
  handlers of one's own.
- ``RepeatFilter`` on the ``catalyst_runtime`` and ``uvicorn.error`` loggers lets the first of a
  run of identical lines through, drops the repeats for ``CATALYST_LOG_REPEAT_SECONDS``, and
  then says how many it dropped: a Redis outage writes a line every few seconds, not one per
  request.
- ``ProbeAccessFilter`` keeps the health and readiness probes out of uvicorn's access log.

``serve`` formats every line with ``JsonFormatter`` (``CATALYST_LOG_FORMAT=json``, the default
when the output is not a terminal): one JSON object a line with ``time``, ``level``, ``logger``,
``message``, the ``request_id`` of the request being served, the ``workflow`` it runs (from
``ExecutionContext``, on every line written while it is served, the access line included), the
``trace_id`` when it is traced, the ``node`` a line is about (its failure, its cache), and an
access line's ``method``, ``path``, ``status``, ``client``.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from time import gmtime, monotonic, strftime
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlsplit

import orjson

from .config import Settings
from .context import current_workflow, workflow_of_route
from .request_id import current_request_id, current_route

__all__ = [
    "JsonFormatter",
    "ProbeAccessFilter",
    "RepeatFilter",
    "SecretRedactor",
    "install",
    "redactor",
]

REDACTED: Final = "[redacted]"
SHORT: Final = 8
"""Secret values shorter than this are redacted only where they stand as a token."""
_HEADER_NAMES: Final = (
    r"authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token"
    r"|x-access-token|x-csrf-token|x-amz-security-token"
)
# A header in the forms logs show it: a (name, value) pair of bytes or text (httpcore's
# header lists), a mapping entry ('name': 'value' or "name": "value"), or a header line.
_HEADER_PAIR: Final = re.compile(
    rf"""(?ix)
    (b?(['"])(?:{_HEADER_NAMES})\2\s*[,:]\s*b?)   # the quoted name, its separator
    ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")          # the quoted value
    """
)
# Every name above contains one of these.
_HEADER_STEMS: Final = ("authoriz", "cookie", "api-key", "-token")
_HEADER_LINE: Final = re.compile(rf"(?im)^(\s*(?:{_HEADER_NAMES})\s*:[ \t]*)(\S.*)$")


class SecretRedactor(logging.Filter):
    """Replaces secret values and Authorization-like header values in log records."""

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._ordered: list[str] = []
        self._short: re.Pattern[str] | None = None
        self._short_values: list[str] = []

    def add(self, values: Iterable[str]) -> None:
        """Redact these values (and their URL-encoded forms) from now on.

        A value of ``SHORT`` characters or more is replaced wherever it appears; a shorter one
        only where it stands as a token of its own (not inside a word: a secret "abc" must not
        turn "abcdef" into "[redacted]def", nor a secret "t" every t of the log).
        """
        for value in values:
            if not value:
                continue
            for form in {value, quote(value, safe=""), quote_plus(value)}:
                self._values.add(form)
        # Longest first, so that a value containing another is replaced whole.
        self._ordered = sorted((v for v in self._values if len(v) >= SHORT), key=len, reverse=True)
        short = sorted((v for v in self._values if len(v) < SHORT), key=len, reverse=True)
        self._short_values = short
        self._short = (
            re.compile(rf"(?<![\w.~-])(?:{'|'.join(map(re.escape, short))})(?![\w.~-])")
            if short
            else None
        )

    def redact(self, text: str) -> str:
        for value in self._ordered:
            if value in text:
                text = text.replace(value, REDACTED)
        # Plain substring tests first: the regular expressions cost a few µs a line, and most
        # lines (an access log line per request) contain neither a short value nor such a header.
        if self._short is not None and any(value in text for value in self._short_values):
            text = self._short.sub(REDACTED, text)
        lowered = text.lower()
        if any(stem in lowered for stem in _HEADER_STEMS):
            text = _HEADER_PAIR.sub(_quoted_redacted, text)
            text = _HEADER_LINE.sub(rf"\1{REDACTED}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to logging's own error report
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatted here, so that no handler formats the raw traceback later.
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = self.redact(text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _quoted_redacted(match: re.Match[str]) -> str:
    quote_char = match.group(3)[0]
    return f"{match.group(1)}{quote_char}{REDACTED}{quote_char}"


redactor: Final = SecretRedactor()
"""The process's redactor; ``install`` adds each service's secret values to it."""

_factory_installed = False


def _install_factory() -> None:
    global _factory_installed
    if _factory_installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


class RepeatFilter(logging.Filter):
    """Lets the first of a run of identical records through, and drops the rest for
    ``window`` seconds; the first one after that says how many were dropped."""

    _MAX_KEYS = 1024

    def __init__(self, window: float) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[tuple[Any, ...], list[float]] = {}  # key -> [window start, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cause = type(record.exc_info[1]).__name__ if record.exc_info else None
        key = (record.name, record.levelno, message, cause)
        now = monotonic()
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.window:
            entry[1] += 1
            return False
        if entry is not None and entry[1]:
            dropped = int(entry[1])
            record.msg = (
                f"{message} (and {dropped} more like it in the last {now - entry[0]:.0f} s)"
            )
            record.args = None
        if len(self._seen) >= self._MAX_KEYS:
            self._forget(now)
        self._seen[key] = [now, 0]
        return True

    def _forget(self, now: float) -> None:
        for key in [k for k, (start, _) in self._seen.items() if now - start >= self.window]:
            del self._seen[key]
        if len(self._seen) >= self._MAX_KEYS:
            self._seen.clear()


_REPEAT_LOGGERS: Final = ("catalyst_runtime", "uvicorn.error")


class ProbeAccessFilter(logging.Filter):
    """Drops uvicorn's access-log lines for the probe paths: a load balancer asking every few
    seconds would otherwise fill the log. (uvicorn logs ``client, method, path?query, version,
    status`` as the record's arguments.)"""

    def __init__(self, paths: Iterable[str]) -> None:
        super().__init__()
        self.paths = frozenset(paths)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            return args[2].partition("?")[0] not in self.paths
        if isinstance(args, Mapping):  # granian's: a dict, the path without the query
            return args.get("path") not in self.paths
        return True


def install(settings: Settings, secrets: Iterable[str] = ()) -> None:
    """Redact ``secrets`` (names of environment variables, read now) and the settings' own
    passwords from every log record, and rate-limit repeated lines. Safe to call again (each
    app's lifespan does): values accumulate, filters are replaced."""
    import os

    values = [os.environ.get(name, "") for name in secrets]
    for url in (settings.postgres_dsn, settings.redis_url, settings.qdrant_url):
        if url:
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                values.append(password)
    if settings.qdrant_api_key:
        values.append(settings.qdrant_api_key)
    redactor.add(values)
    _install_factory()
    for name in _REPEAT_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RepeatFilter)]:
            logger.removeFilter(old)
        logger.addFilter(RepeatFilter(settings.log_repeat_seconds))
    for name in ("uvicorn.access", "granian.access"):
        access = logging.getLogger(name)
        for stale in [f for f in access.filters if isinstance(f, ProbeAccessFilter)]:
            access.removeFilter(stale)
        access.addFilter(ProbeAccessFilter((settings.health_path, settings.ready_path)))


trace_id_source: Callable[[], str | None] | None = None
"""Set by ``tracing.install`` while tracing is on: the current trace id, for ``trace_id``."""


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors. The message is the redacted one (the record
    factory ran first), and so is the traceback (``SecretRedactor`` formatted it)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = current_request_id()
        if rid is not None:
            entry["request_id"] = rid
        if trace_id_source is not None:
            trace_id = trace_id_source()
            if trace_id is not None:
                entry["trace_id"] = trace_id
        workflow = (
            record.__dict__.get("workflow")
            or current_workflow()
            or workflow_of_route(current_route())
        )
        if workflow is not None:
            entry["workflow"] = workflow
        node = record.__dict__.get("node")
        if node is not None:
            entry["node"] = node
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _version, status = args
            entry.update(client=client, method=method, path=path, status=status)
        elif record.name == "granian.access" and isinstance(args, Mapping):
            query = args.get("query_string")
            if isinstance(query, bytes):
                query = query.decode("latin-1")
            entry.update(
                client=args.get("addr"),
                method=args.get("method"),
                path=f"{args.get('path')}?{query}" if query else args.get("path"),
                status=args.get("status"),
            )
        if record.exc_info and not record.exc_text:
            record.exc_text = redactor.redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return orjson.dumps(entry, default=str).decode()

    @staticmethod
    def _time(record: logging.LogRecord) -> str:
        seconds = int(record.created)
        millis = int((record.created - seconds) * 1000)
        return f"{strftime('%Y-%m-%dT%H:%M:%S', gmtime(seconds))}.{millis:03d}Z"
