"""Prometheus metrics of the ledger agent, registered in the worker's registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class LedgerMetrics:
    """`fulfillsync_ledger_inputs_total{type,status}` and `fulfillsync_ledger_outputs_total{type}` (dead letters are
    counted by `streams.kit.dead_letters.DeadLetterMetrics`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.inputs = Counter("fulfillsync_ledger_inputs", "Inputs read by the ledger agent, by type and outcome",
                              ["type", "status"], registry=registry)
        self.outputs = Counter("fulfillsync_ledger_outputs", "Records published on shipped-orders, by type",
                               ["type"], registry=registry)
