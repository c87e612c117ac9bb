"""Prometheus metrics of the ledger agent, in the worker's registry (served at /metrics; `streams.kit.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.kit.metrics import counter, histogram

PROCESSING_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                                         5.0, 10.0)
"""Seconds: the ledger takes about a millisecond per input; the upper buckets catch the retried ones."""


class LedgerMetrics:
    """`fulfillsync_ledger_inputs_total{type,status}`, `fulfillsync_ledger_outputs_total{type}` and
    `fulfillsync_ledger_processing_seconds` (a histogram: one observation per input record, from taking it to
    having stored its state, retries in place included). Dead letters are counted by
    `streams.kit.dead_letters.DeadLetterMetrics`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.inputs = counter("fulfillsync_ledger_inputs", "Inputs read by the ledger agent, by type and outcome",
                              ["type", "status"], registry=registry)
        self.outputs = counter("fulfillsync_ledger_outputs", "Records published on shipped-orders, by type",
                               ["type"], registry=registry)
        self.processing = histogram("fulfillsync_ledger_processing_seconds",
                                    "Time the ledger agent took per input record, retries in place included",
                                    buckets=PROCESSING_BUCKETS, registry=registry)
