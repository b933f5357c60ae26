"""catalyst_runtime: the run-time library of Catalyst workflow services.

Generated code imports only the names in ``__all__``. Drivers (asyncpg, redis, qdrant-client) are
imported lazily, when a pool that needs them is built.
"""

from .app import WorkflowRouter, create_app
from .bodies import input_body, json_response, read_input, to_json
from .cache import LRUCache, RedisCache, cached
from .cache_node import NodeCache
from .compiled_routes import compiled_route
from .config import Settings
from .context import ExecutionContext, NodeScope
from .embedding_node import embedding_call
from .errors import (
    BodyTimeout,
    BodyTooLarge,
    CatalystError,
    ClientDisconnected,
    ConfigError,
    InputValidationError,
    NodeError,
    NodeTimeoutError,
    ProviderRateLimited,
    RateLimitExceeded,
    StreamOverflow,
    UnsupportedMediaType,
    UpstreamError,
    node_error,
)
from .expressions import item_at
from .http_node import http_call, url_segment
from .llm_node import StructuredOutput, llm_call
from .map_node import MapTooLarge, run_map
from .parallel_node import run_branches
from .pools import ConnectionPools
from .postgres_node import pg_query
from .query import query_parameters, read_query
from .rate_limit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from .rate_limit_node import rate_limit
from .redis_node import redis_command
from .sse import EventStreamResponse, done_event, error_event, format_sse, stream_response
from .steps import NodeTasks, run_concurrently
from .streaming import EventChannel, stream_doc, stream_run
from .vector_search_node import vector_search

__all__ = [
    "BodyTimeout",
    "BodyTooLarge",
    "CatalystError",
    "ClientDisconnected",
    "ConfigError",
    "ConnectionPools",
    "EventChannel",
    "EventStreamResponse",
    "ExecutionContext",
    "InMemoryRateLimiter",
    "InputValidationError",
    "LRUCache",
    "MapTooLarge",
    "NodeCache",
    "NodeError",
    "NodeScope",
    "NodeTasks",
    "NodeTimeoutError",
    "ProviderRateLimited",
    "RateLimitExceeded",
    "RateLimiter",
    "RedisCache",
    "RedisRateLimiter",
    "Settings",
    "StreamOverflow",
    "StructuredOutput",
    "UnsupportedMediaType",
    "UpstreamError",
    "WorkflowRouter",
    "cached",
    "compiled_route",
    "create_app",
    "done_event",
    "embedding_call",
    "error_event",
    "format_sse",
    "http_call",
    "input_body",
    "item_at",
    "json_response",
    "llm_call",
    "node_error",
    "pg_query",
    "query_parameters",
    "rate_limit",
    "read_input",
    "read_query",
    "redis_command",
    "run_branches",
    "run_concurrently",
    "run_map",
    "stream_doc",
    "stream_response",
    "stream_run",
    "to_json",
    "url_segment",
    "vector_search",
]
