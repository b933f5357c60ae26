"""The FastAPI factory every service's ``main.py`` calls."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response

from .bodies import dumps
from .config import Settings
from .errors import INTERNAL_ERROR_BODY, CatalystError, InputValidationError, NodeError
from .pools import ConnectionPools

__all__ = ["WorkflowRouter", "create_app"]

logger = logging.getLogger("catalyst_runtime")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class WorkflowRouter(APIRouter):
    """An ``APIRouter`` that also says which connection pools its workflows use.

    Generated code builds one (``WorkflowRouter(pools=("postgres",))``) so that ``create_app``
    starts exactly those pools, with no change to the hand-owned ``main.py``. Including one
    workflow router in another unions their pools.
    """

    def __init__(self, *, pools: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pools: frozenset[str] = frozenset(pools)

    def include_router(self, router: APIRouter, *args: Any, **kwargs: Any) -> None:
        if isinstance(router, WorkflowRouter):
            self.pools = self.pools | router.pools
        super().include_router(router, *args, **kwargs)


def create_app(
    router: APIRouter,
    *,
    title: str,
    version: str = "0.1.0",
    pools: Iterable[str] = (),
    settings: Settings | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """A FastAPI app serving ``router``.

    At start-up the lifespan reads ``Settings`` (unless given) and builds the pools named by
    ``pools`` and by a ``WorkflowRouter``'s ``pools``, exposing them as ``app.state.pools`` and the
    settings as ``app.state.settings``; at shutdown it closes them. ``lifespan``, if given, runs
    inside, with the pools already open. Errors become JSON bodies (see ``errors``).
    """
    needs = set(pools)
    if isinstance(router, WorkflowRouter):
        needs |= router.pools

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = Settings.from_env() if settings is None else settings
        app.state.pools = await ConnectionPools.create(app.state.settings, needs)
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            await app.state.pools.close()

    app = FastAPI(title=title, version=version, lifespan=app_lifespan)
    app.add_exception_handler(CatalystError, _catalyst_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.include_router(router)
    return app


async def _catalyst_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CatalystError)  # registered for CatalystError only
    where = f"{request.method} {request.url.path}"
    if isinstance(exc, InputValidationError):
        body = exc.to_body()
    elif isinstance(exc, NodeError):
        # The runtime's own message only; the cause (which may quote data) stays at debug level.
        logger.warning("%s -> %d: %s", where, exc.status_code, exc)
        logger.debug("cause", exc_info=exc)
        body = exc.to_body()
    else:
        # A configuration problem (a missing secret, a pool not built) is the operator's to fix:
        # the log names it, the client learns nothing about the deployment.
        logger.error("%s -> %d: %s", where, exc.status_code, exc)
        body = INTERNAL_ERROR_BODY
    return Response(dumps(body), exc.status_code, media_type="application/json")


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette logs the traceback itself; the client learns nothing about the internals.
    return Response(dumps(INTERNAL_ERROR_BODY), 500, media_type="application/json")
