"""The compiled request path: workflow routes answered straight from the ASGI entry.

A generated workflow endpoint is already the whole request: it reads and validates the body
once (``read_input``: pydantic-core from the raw bytes), runs the workflow and returns a
response whose body and headers are written (``json_response``). What FastAPI adds around it
for such a route (its middleware stack, route matching, dependency solving, the response call)
is about 60 µs a request, several times the endpoint itself (docs/performance.md). So the
compiler marks each workflow endpoint ``@compiled_route``, and ``create_app`` puts a
``CompiledRoutes`` dispatcher in front of FastAPI: one dict lookup on ``(method, path)`` calls
the endpoint and sends its bytes; every other request (``/docs``, ``/openapi.json``, the
probes, ``/metrics``, the user's routes, an unknown path, a wrong method, ``HEAD``) goes to
FastAPI unchanged. The routes stay registered with FastAPI, so the OpenAPI document is the
same and FastAPI can still serve them (``CATALYST_COMPILED_ROUTES=off``).

Where it sits (``app._ServiceApp.build_middleware_stack``):

- with no middleware added by the user and the runtime's own exception handlers, right inside
  the request-id, metrics and tracing middleware, answering errors itself with the same
  handlers FastAPI would call (``handle_errors=True``);
- otherwise in the router's place, inside FastAPI's stack: user middleware and exception
  handlers see a compiled request exactly as they saw a FastAPI one (``handle_errors=False``).

A route is taken only when FastAPI would run nothing but the endpoint for it: an ``APIRoute``
marked ``@compiled_route``, an ``async`` endpoint taking at most the ``Request``, no
dependencies, no parameters, and no earlier route matching the same method and path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from fastapi.routing import APIRoute
from starlette.requests import Request, empty_send
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from .bodies import _JSONResponse
from .request_id import assign

__all__ = ["CompiledRoutes", "compiled_route", "route_table"]

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])

_MARK: Final = "__catalyst_compiled__"

Handler = Callable[[Scope, Receive], Any]
ErrorHandler = Callable[[Request, Exception], Any]


def compiled_route(endpoint: EndpointT) -> EndpointT:
    """Mark a generated workflow endpoint as one the compiled request path may call directly
    (applied under the route decorator: ``@router.post(...)`` then ``@compiled_route``)."""
    setattr(endpoint, _MARK, True)
    return endpoint


class _Entry:
    __slots__ = ("endpoint", "route", "takes_request")

    def __init__(self, route: APIRoute, takes_request: bool) -> None:
        self.route = route
        self.endpoint = route.endpoint
        self.takes_request = takes_request


class _DirectRequest(Request):
    """The ``Request`` a compiled endpoint gets: Starlette's, made with two attribute writes
    instead of its ``__init__`` (a type check the dispatcher has done, and five writes of values
    that are the same for every request, here class defaults): 0.19 against 0.45 µs. Every
    property and method is Starlette's; what they set later goes on the instance as usual."""

    _send = staticmethod(empty_send)
    _stream_consumed = False
    _is_disconnected = False
    _form = None

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive


def _direct(route: BaseRoute) -> bool | None:
    """Whether FastAPI would run only the endpoint for ``route``: ``None`` if not, else whether
    the endpoint takes the ``Request``."""
    if not isinstance(route, APIRoute) or not getattr(route.endpoint, _MARK, False):
        return None
    if not inspect.iscoroutinefunction(route.endpoint) or route.dependencies:
        return None
    d = route.dependant
    params = (d.path_params, d.query_params, d.header_params, d.cookie_params, d.body_params)
    others = (
        d.websocket_param_name,
        d.http_connection_param_name,
        d.response_param_name,
        d.background_tasks_param_name,
        d.security_scopes_param_name,
    )
    if any(params) or d.dependencies or any(name is not None for name in others):
        return None
    return d.request_param_name is not None


def route_table(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], _Entry]:
    """``(method, path)`` → entry for every route the compiled path may answer, in FastAPI's
    order: a route some earlier route would match first (a user's catch-all, a mount) is left
    to FastAPI."""
    table: dict[tuple[str, str], _Entry] = {}
    earlier: list[BaseRoute] = []
    for route in routes:
        takes_request = _direct(route)
        if takes_request is not None:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                probe = {"type": "http", "path": route.path, "method": method, "root_path": ""}
                if (method, route.path) in table or any(
                    other.matches(probe)[0] == Match.FULL for other in earlier
                ):
                    continue
                table[(method, route.path)] = _Entry(route, takes_request)
        earlier.append(route)
    return table


class CompiledRoutes:
    """The ASGI entry of the compiled path; ``fallback`` (FastAPI) gets every other request."""

    __slots__ = ("errors", "fallback", "request_ids", "table")

    def __init__(
        self,
        table: Mapping[tuple[str, str], _Entry],
        fallback: ASGIApp,
        errors: Mapping[type[BaseException], ErrorHandler] | None,
        *,
        request_ids: bool = False,
    ) -> None:
        self.table = dict(table)
        self.fallback = fallback
        # None: exceptions go up to FastAPI's own middleware (user middleware is installed);
        # else the app's exception handlers, answered here.
        self.errors = errors
        # True when this is the outermost layer (no metrics or tracing middleware): a compiled
        # request's id is assigned here and its header added to the raw headers sent, which
        # saves RequestIdMiddleware's send wrapper (about 1 µs); ``fallback`` has its own.
        self.request_ids = request_ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = (
            self.table.get((scope["method"], scope["path"]))
            if scope["type"] == "http" and not scope.get("root_path")
            else None
        )
        if entry is None:
            await self.fallback(scope, receive, send)
            return
        header = assign(scope) if self.request_ids else None
        # What FastAPI's router leaves in the scope: metrics, tracing and the log lines read
        # the route.
        scope["route"] = entry.route
        scope["endpoint"] = entry.endpoint
        scope["path_params"] = {}
        try:
            if entry.takes_request:
                response = await entry.endpoint(_DirectRequest(scope, receive))
            else:
                response = await entry.endpoint()
        except Exception as exc:
            if self.errors is None:
                raise
            await self._answer_error(scope, receive, _with(send, header), exc)
            return
        if type(response) is _JSONResponse:
            # The body and raw headers are already written: send them as they are.
            headers = response.raw_headers
            if header is not None:
                headers = [*headers, header]  # a new list, as RequestIdMiddleware makes
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": headers}
            )
            await send({"type": "http.response.body", "body": response.body})
        else:  # any other response (a stream) plays itself, as under FastAPI
            await response(scope, receive, _with(send, header))

    async def _answer_error(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception
    ) -> None:
        """As Starlette's exception and server-error middleware would: the handler registered
        for the nearest class of ``exc``; for one handled only by ``Exception``'s (a 500), the
        exception is raised again after the answer, so the server logs it."""
        assert self.errors is not None
        for cls in type(exc).__mro__:
            handler = self.errors.get(cls)
            if handler is not None:
                break
        else:  # pragma: no cover - create_app always registers one for Exception
            raise exc
        response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)
        if cls is Exception:
            raise exc


def _with(send: Send, header: tuple[bytes, bytes] | None) -> Send:
    """``send`` adding the request-id header to the response's start, as RequestIdMiddleware
    does (for the answers that are not sent by ``CompiledRoutes`` itself)."""
    if header is None:
        return send

    async def send_with_id(message: Any) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
        await send(message)

    return send_with_id
