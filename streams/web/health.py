"""The worker's HTTP endpoints (Faust's web server, port `worker.web_port`, 6066 by default).

- `/healthz`: 200 while the worker process runs its event loop (liveness).
- `/readyz`: 200 once the worker has partitions assigned, is not rebalancing and has recovered its tables;
  503 with the reason otherwise (readiness: Kubernetes holds traffic and rollouts until then).
- `/metrics`: Prometheus text format.
"""

from __future__ import annotations

from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


def readiness(app: faust.App) -> tuple[bool, str]:
    """Whether the worker is ready to process, and why not."""
    if app.rebalancing:
        return False, "rebalancing"
    recovery: Any = getattr(app.tables, "recovery", None)
    if recovery is None or not recovery.completed.is_set():
        return False, "recovering tables"
    if not app.consumer.assignment():
        return False, "no partitions assigned yet"
    return True, "ready"


def register_views(app: faust.App, registry: CollectorRegistry) -> None:
    """Add the health, readiness and metrics views to `app`."""

    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    async def readyz(web: Any, request: Any) -> Any:
        ready, reason = readiness(app)
        return web.json({"status": "ready" if ready else "not ready", "reason": reason}, status=200 if ready else 503)

    async def metrics_view(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    app.page("/healthz")(healthz)
    app.page("/readyz")(readyz)
    app.page("/metrics")(metrics_view)
