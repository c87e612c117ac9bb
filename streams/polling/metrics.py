"""Prometheus metrics of the pollers, registered in the worker's registry (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class PollingMetrics:
    """Counters of ticks, polls, published orders and unrouted lines. Connection labels are configured ids only
    (ticks naming anything else count under `unknown`), so the label set stays bounded."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ticks = Counter("fulfillsync_poll_ticks", "Poll ticks published or consumed, by outcome",
                             ["outcome"], registry=registry)
        self.polls = Counter("fulfillsync_polls", "Polls of a connection, by outcome",
                             ["connection", "outcome"], registry=registry)
        self.orders_seen = Counter("fulfillsync_poll_orders_seen", "Orders a poll reported created or changed",
                                   ["connection"], registry=registry)
        self.orders_placed = Counter("fulfillsync_poll_orders_placed", "order.placed events published by pollers",
                                     ["connection"], registry=registry)
        self.unrouted_lines = Counter("fulfillsync_unrouted_lines",
                                      "Buyer order lines no route covers (left to the buyer), by reason",
                                      ["connection", "reason"], registry=registry)
        self.unroutable_orders = Counter("fulfillsync_unroutable_orders",
                                         "Buyer orders routing refused (a connector or configuration bug)",
                                         ["connection"], registry=registry)
        self.failing = Gauge("fulfillsync_poll_failing",
                             "1 while a connection's last FAILING_AFTER polls or more failed in a row, else 0",
                             ["connection"], registry=registry)
