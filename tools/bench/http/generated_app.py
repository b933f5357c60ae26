"""The generated services, mounted exactly as a scaffolded service's ``main.py`` mounts them.

``npm run bench -- --scenario observability`` compiles ``testdata/hello`` and
``testdata/http_fanout`` with the built compiler into ``bench_hello/_generated`` and
``bench_fanout/_generated`` under a temporary folder that it puts on ``PYTHONPATH``; nothing
here is hand-tuned.

    python -m catalyst_runtime.serve generated_app:hello   (POST /hello)
    python -m catalyst_runtime.serve generated_app:fanout  (POST /profile; UPSTREAM_URL/TOKEN)
"""

from __future__ import annotations

import os

from catalyst_runtime import create_app

_which = os.environ.get("BENCH_APP", "hello")

if _which == "hello":
    from bench_hello._generated import router as _hello_router

    hello = create_app(_hello_router, title="hello (generated)")
else:
    from bench_fanout._generated import router as _fanout_router

    fanout = create_app(_fanout_router, title="profile (generated)")
