"""The faults-under-load service of the benchmark (tools/bench/scenarios/f-faults.mjs): the
``service_outages`` golden's workflow (a Redis ``incr`` and a PostgreSQL read at once),
compiled by the built compiler into ``bench_outages/_generated``, mounted as a scaffolded
``main.py`` mounts it.

    python -m catalyst_runtime.serve outages_app:generated   (POST /visit)
"""

from __future__ import annotations

from bench_outages._generated import router
from catalyst_runtime import create_app

generated = create_app(router, title="visit (generated)")
