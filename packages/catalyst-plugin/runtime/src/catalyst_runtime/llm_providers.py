"""The LLM providers' official SDK clients, one per provider, base URL and key per process.

A service whose nodes call a provider lists it among its pools (``WorkflowRouter(pools=
("anthropic",))``; Groq's with ``"llm"`` too). At start-up its pool imports the provider's SDK,
so a service without ``catalyst-runtime[llm]`` stops with one line saying what to install
instead of failing on its first request, and opens the HTTP client the SDK sends on:

- ``groq`` sends on httpx: the ``llm`` pool's own ``httpx.AsyncClient``;
- ``anthropic`` and ``openai`` moved to ``httpx2``, a separate package whose clients httpx's
  cannot stand in for: each gets one ``httpx2.AsyncClient`` with the ``llm`` pool's limits
  (``CATALYST_LLM_MAX_CONNECTIONS``, ``CATALYST_LLM_TIMEOUT``).

``ProviderClients.get(base_url, api_key)`` gives the SDK client for that endpoint and key, made
the first time it is asked for and kept for the process (making one does no I/O), so no request
builds a client. Every client has the SDK's own retries off (``max_retries=0``): the node retries
itself, and only before the first token (``llm_node``).

The SDKs are imported here, lazily: importing one costs 1 to 3 s of CPU on this machine
(``python -X importtime``), which a service without llm nodes must not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final, Literal

from .config import Settings
from .errors import ConfigError

if TYPE_CHECKING:
    from .pools import ConnectionPools

__all__ = ["PROVIDERS", "Provider", "ProviderClients", "build_provider"]

Provider = Literal["anthropic", "openai", "groq"]
PROVIDERS: Final = ("anthropic", "openai", "groq")

_CLIENT_CLASS: Final[dict[str, str]] = {
    "anthropic": "AsyncAnthropic",
    "openai": "AsyncOpenAI",
    "groq": "AsyncGroq",
}

MAX_CLIENTS: Final = 64
"""The most endpoint and key pairs one provider keeps clients for. Base URLs and keys come from
the definition, the environment and ``global`` (never from a request), so a service has a
handful; more means a key is changing under a running service."""


class ProviderClients:
    """One provider's SDK module, transport and clients."""

    __slots__ = ("_clients", "_owns_http", "http", "module", "name", "settings")

    def __init__(
        self, name: str, module: Any, http: Any, settings: Settings, *, owns_http: bool
    ) -> None:
        self.name = name
        self.module = module
        self.http = http
        self.settings = settings
        self._owns_http = owns_http
        self._clients: dict[tuple[str | None, str | None], Any] = {}

    @property
    def own_http(self) -> Any:
        """The HTTP client this provider alone sends on (``anthropic``, ``openai``), or ``None``
        when it sends on the ``llm`` pool's (``groq``): for the pool metrics."""
        return self.http if self._owns_http else None

    def get(self, base_url: str | None, api_key: str | None) -> Any:
        """The SDK client for ``base_url`` (the provider's own when ``None``) and ``api_key``."""
        key = (base_url, api_key)
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= MAX_CLIENTS:
                raise ConfigError(
                    f"{self.name} clients",
                    f"more than {MAX_CLIENTS} base URL and key pairs in one process; a key or "
                    "base URL must not change per request",
                )
            cls = getattr(self.module, _CLIENT_CLASS[self.name])
            client = cls(
                # A local OpenAI-compatible server (Ollama, vLLM) takes no key; the SDK wants one.
                api_key=api_key if api_key else "unused",
                base_url=base_url,
                http_client=self.http,
                max_retries=0,
                timeout=self.settings.llm_timeout,
            )
            self._clients[key] = client
        return client

    async def close(self) -> None:
        # The SDK clients only borrow the transport: closing it closes them all.
        self._clients.clear()
        if self._owns_http:
            await self.http.aclose()

    def __repr__(self) -> str:
        return f"ProviderClients({self.name!r}, clients={len(self._clients)})"


async def build_provider(name: str, settings: Settings, pools: ConnectionPools) -> ProviderClients:
    """The pool named for a provider: its SDK imported, its transport open."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        # One line at start-up instead of a traceback on the first call.
        raise ConfigError(
            name,
            f"this service's llm or embedding nodes call {name} and its SDK is not installed; "
            'depend on "catalyst-runtime[llm]" instead of "catalyst-runtime"',
        ) from None
    if name == "groq":
        return ProviderClients(name, module, pools.llm, settings, owns_http=False)
    import httpx2

    from .pools import _http_wait_hooks

    http = httpx2.AsyncClient(
        limits=httpx2.Limits(
            max_connections=settings.llm_max_connections,
            max_keepalive_connections=settings.llm_max_connections,
        ),
        timeout=httpx2.Timeout(settings.llm_timeout, connect=settings.http_connect_timeout),
        # With metrics on, the wait for a connection is timed as the llm pool's (pool=<name>).
        **_http_wait_hooks(name),
    )
    return ProviderClients(name, module, http, settings, owns_http=True)
