"""Prometheus metrics of one worker, served at /metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, generate_latest


@dataclass
class Metrics:
    """Counters of what the ledger agent did. One registry per app, so tests can run several apps."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.inputs = Counter("fulfillsync_ledger_inputs", "Inputs read by the ledger agent, by type and outcome",
                              ["type", "status"], registry=self.registry)
        self.outputs = Counter("fulfillsync_ledger_outputs", "Records published on shipped-orders, by type",
                               ["type"], registry=self.registry)
        self.dead_letters = Counter("fulfillsync_dead_letters", "Records dead-lettered, by stage and reason",
                                    ["stage", "reason"], registry=self.registry)
        self.webhooks = Counter("fulfillsync_webhooks", "Webhook requests, by connection and outcome",
                                ["connection", "outcome"], registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
