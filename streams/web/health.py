"""The worker's HTTP endpoints (Faust's web server, port `worker.web_port`, 6066 by default) and what each one
tells Kubernetes (docs/deploy.md, "Probes"):

- `/healthz` (liveness): 200 whenever the worker's event loop answers, whatever the worker is doing: recovering
  tables for an hour, rebalancing, waiting for the broker. Only a loop that stopped answering should restart it.
- `/readyz` (startup and readiness): 503 until the worker has finished its first partition assignment and
  recovered the tables it was given (reasons `rebalancing`, `recovering tables`); from then on 200 until it stops,
  also while later rebalances and recoveries run and while it holds no partition at all (more workers than
  partitions): such a worker still accepts webhooks, which need only its producer, and takes partitions over when
  another worker goes. 503 `stopping` once it shuts down. A probe that answered 503 during every rebalance would
  take every worker out of the webhook Service at once, and one that wanted partitions would keep the workers
  beyond the partition count unready for ever.

  The body says what the worker does now: `{"status": "ready" | "not ready", "reason": ..., "processing": bool,
  "assigned": int}`; `processing` is true when it holds partitions, no rebalance runs and its tables are recovered
  (the worker is consuming), `assigned` counts the topic partitions (changelogs included) assigned to it.
- `/metrics`: Prometheus text format: the registry `register_views` is given, the worker's being prometheus_client's
  default one with the process and Python (platform, gc) collectors beside every `fulfillsync_*` metric
  (`streams.kit.metrics`; README.md, "Operations", lists them, and docs/operations.md says what to do when their
  alerts fire).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


@dataclass(frozen=True)
class Readiness:
    """One answer of `/readyz`: `ready` decides the status code (200 or 503)."""

    ready: bool
    reason: str
    processing: bool
    assigned: int

    def body(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not ready", "reason": self.reason,
                "processing": self.processing, "assigned": self.assigned}


class ReadinessProbe:
    """`/readyz`'s answers for one app (module docstring). `check()` latches `started` the first time it sees the
    worker's first table recovery finished, and never unlatches it: later rebalances and recoveries leave the worker
    ready. The app is read, never changed: `rebalancing`, `tables.recovery.completed` (set by Faust when a recovery
    ends, whatever was assigned, even nothing; not cleared by later rebalances), `consumer.assignment()`, and
    `stopping` (`streams.kit.worker_app.WorkerApp` sets it when it shuts down; absent on other apps: never)."""

    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.started = False

    def check(self) -> Readiness:
        app = self.app
        recovery: Any = getattr(app.tables, "recovery", None)
        recovered = recovery is not None and recovery.completed.is_set()
        rebalancing = bool(app.rebalancing)
        assigned = len(app.consumer.assignment()) if recovered else 0
        if recovered:
            self.started = True
        processing = recovered and not rebalancing and assigned > 0
        if getattr(app, "stopping", False):
            return Readiness(False, "stopping", processing, assigned)
        if rebalancing:
            reason = "rebalancing"
        elif not recovered:
            reason = "recovering tables"
        elif not assigned:
            reason = "no partitions assigned (more workers than partitions): webhooks only"
        else:
            reason = "processing"
        if not self.started:
            return Readiness(False, reason, processing, assigned)
        return Readiness(True, reason, processing, assigned)


def register_views(app: faust.App, registry: CollectorRegistry) -> None:
    """Add the health, readiness and metrics views to `app`; `/metrics` serves `registry` (each scrape collects
    it anew, so gauges read at scrape time are current)."""
    probe = ReadinessProbe(app)

    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    async def readyz(web: Any, request: Any) -> Any:
        answer = probe.check()
        return web.json(answer.body(), status=200 if answer.ready else 503)

    async def metrics_view(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    app.page("/healthz")(healthz)
    app.page("/readyz")(readyz)
    app.page("/metrics")(metrics_view)
