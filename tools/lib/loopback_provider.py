"""The runtime's loopback LLM provider (catalyst_runtime.testing_providers) as a process of its
own, for callers that are not Python: the examples' end-to-end tests (packages/e2e) start it
with the sample workspace's Python, point a service's SDK at it, and drive it over HTTP.

    python loopback_provider.py PORT

Besides the providers' routes (/v1/messages, /v1/chat/completions, ...), two of its own:

- ``PUT /_loopback/script`` with a JSON object of ``ProviderScript`` fields (``structured``: the
  structured answers to give, one per request, the last one repeated; ``tokens``: the text's
  pieces; ...): the script from then on, the others at their defaults. It forgets the requests.
- ``GET /_loopback/requests``: what the SDK sent so far, ``[{path, body, headers}]``.
"""

from __future__ import annotations

import sys

import orjson
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalyst_runtime.testing_providers import ProviderScript, ProviderServer


def main(port: int) -> None:
    provider = ProviderServer()

    async def script(request: Request) -> Response:
        provider.script = ProviderScript(**orjson.loads(await request.body()))
        provider.requests.clear()
        return Response(status_code=204)

    async def requests(_: Request) -> Response:
        sent = [{"path": r.path, "body": r.body, "headers": r.headers} for r in provider.requests]
        return Response(orjson.dumps(sent), media_type="application/json")

    provider.app.router.routes.append(Route("/_loopback/script", script, methods=["PUT"]))
    provider.app.router.routes.append(Route("/_loopback/requests", requests, methods=["GET"]))
    uvicorn.run(
        provider.app, host="127.0.0.1", port=port, lifespan="off", ws="none", log_level="warning"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
