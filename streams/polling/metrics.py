"""Prometheus metrics of the pollers, in the worker's registry (served at /metrics; `streams.kit.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from streams.kit.metrics import counter, gauge


class PollingMetrics:
    """Counters of ticks, polls, published orders and unrouted lines; per connection, whether its polls keep failing
    (`fulfillsync_poll_failing`) and when its last poll succeeded
    (`fulfillsync_poll_last_success_timestamp_seconds`, unix seconds; absent until one did on this worker).
    Connection labels are configured ids only (ticks naming anything else count under `unknown`), so the label set
    stays bounded."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ticks = counter("fulfillsync_poll_ticks", "Poll ticks published or consumed, by outcome",
                             ["outcome"], registry=registry)
        self.polls = counter("fulfillsync_polls", "Polls of a connection, by outcome",
                             ["connection", "outcome"], registry=registry)
        self.orders_seen = counter("fulfillsync_poll_orders_seen", "Orders a poll reported created or changed",
                                   ["connection"], registry=registry)
        self.orders_placed = counter("fulfillsync_poll_orders_placed", "order.placed events published by pollers",
                                     ["connection"], registry=registry)
        self.unrouted_lines = counter("fulfillsync_unrouted_lines",
                                      "Buyer order lines no route covers (left to the buyer), by reason",
                                      ["connection", "reason"], registry=registry)
        self.unroutable_orders = counter("fulfillsync_unroutable_orders",
                                         "Buyer orders routing refused (a connector or configuration bug)",
                                         ["connection"], registry=registry)
        self.failing = gauge("fulfillsync_poll_failing",
                             "1 while a connection's last FAILING_AFTER polls or more failed in a row, else 0",
                             ["connection"], registry=registry)
        self.last_success = gauge("fulfillsync_poll_last_success_timestamp_seconds",
                                  "When the last successful poll of a connection on this worker ended (unix seconds)",
                                  ["connection"], registry=registry)
