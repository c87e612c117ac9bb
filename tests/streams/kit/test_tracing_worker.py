"""Trace context end to end on the real broker: `fulfillsync worker` as its own process with a simulated Shopify
seller store; `order.placed` and `fulfillment.recorded` produced as the pollers would, with and without a
`ce_traceparent` header. What the worker publishes because of each (the seller's confirmation on order-events, the
order.shipped on shipped-orders, the push record on buyer-pushes) carries that input's trace id with a span of its
own, or, for an input without one, a valid new trace."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.cloudevents import header_map
from schemas.config_file import load_config
from schemas.events import FulfilledLine, InputEvent, OrderPlaced, SourceRef
from schemas.factories import fulfillment_recorded
from schemas.topics import TopicNames
from schemas.trace_context import TraceContext, parse_traceparent
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from streams.kit.records import encode_event
from tests.support.kafka_harness import WorkerProcess, drain, reader_from_start
from tests.support.seller_worker import ACME, TOKEN, placed, served_shopify, write_config

pytestmark = pytest.mark.kafka

SOURCE = SourceRef(partner=ACME.partner, connection=ACME.connection, platform=ACME.platform)


@dataclass
class Seen:
    topic: str
    value: dict[str, Any]
    headers: dict[str, str]

    @property
    def trace(self) -> TraceContext:
        found = parse_traceparent(self.headers.get("ce_traceparent"), self.headers.get("ce_tracestate"))
        assert found is not None, f"{self.topic} record without a valid ce_traceparent: {self.headers}"
        return found


@dataclass
class Topics:
    bootstrap: str
    topics: tuple[str, ...]
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = reader_from_start(self.bootstrap, self.topics)

    def wait_for(self, condition: Callable[[Seen], bool], what: str, worker: WorkerProcess,
                 timeout_s: float = 60) -> Seen:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in drain(self._consumer, 0.3):
                self.seen.append(Seen(str(message.topic()), json.loads(message.value() or b"null"),
                                      header_map(message.headers())))
            found = [record for record in self.seen if condition(record)]
            if found:
                return found[0]
        raise AssertionError(f"timed out waiting for {what}\n{worker.log_tail()}")

    def close(self) -> None:
        self._consumer.close()


def publish(producer: EventProducer, topic: str, event: InputEvent, traceparent: str | None) -> None:
    """`event` as a poller publishes it, its trace headers replaced by `traceparent` (None: none at all)."""
    encoded = encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                           time=event.occurred_at, source="/tests")
    headers = [(name, value) for name, value in encoded.headers if name not in ("ce_traceparent", "ce_tracestate")]
    if traceparent is not None:
        headers += [("ce_traceparent", traceparent.encode()), ("ce_tracestate", b"tests=1")]
    producer.publish_raw(topic, encoded.key, encoded.value, headers)
    producer.flush()


def fulfil(order: OrderPlaced) -> InputEvent:
    return fulfillment_recorded(order_id=order.order_id, source=SOURCE, fulfillment_id=f"F-{order.order_id[:8]}",
                                source_version=datetime.now(UTC), carrier="UPS",
                                tracking_numbers=["1Z999AA10123456784"],
                                lines=[FulfilledLine(line_id=line.line_id, quantity=line.quantity)
                                       for line in order.lines])


def random_traceparent() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


def test_outputs_carry_the_trace_of_the_input_they_come_from(tmp_path: Path, kafka_bootstrap: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELLER_ORDERS_TEST_TOKEN", TOKEN)  # the worker process inherits it
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    with served_shopify("acme") as acme, served_shopify("bolt") as bolt:
        config_path = write_config(tmp_path, kafka_bootstrap, acme, bolt)
        config = load_config(config_path).config
        ensure_topics(config.kafka)
        names = TopicNames(config.kafka.topic_prefix)
        topics = Topics(kafka_bootstrap, (names.order_events, names.shipped_orders, names.buyer_pushes))
        producer = EventProducer(kafka_bootstrap, source="/tests")
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        try:
            traced_order, untraced_order = placed(ACME, {"ACME-MUG": 2}), placed(ACME, {"ACME-CAP": 1})
            placed_trace = random_traceparent()
            publish(producer, names.order_events, traced_order, placed_trace)
            publish(producer, names.order_events, untraced_order, None)

            def confirmation(order: OrderPlaced) -> Callable[[Seen], bool]:
                return lambda seen: (seen.topic == names.order_events and seen.value["order_id"] == order.order_id
                                     and seen.value["seller"]["order_ref"] is not None)

            confirmed = topics.wait_for(confirmation(traced_order), "the traced order's confirmation", worker)
            sent = parse_traceparent(placed_trace)
            assert sent is not None
            assert confirmed.trace.trace_id == sent.trace_id and confirmed.trace.span_id != sent.span_id
            assert confirmed.trace.state == "tests=1"
            other = topics.wait_for(confirmation(untraced_order), "the untraced order's confirmation", worker)
            assert other.trace.trace_id != sent.trace_id, "an input without a trace gets a new one"

            fulfilled_trace = random_traceparent()
            publish(producer, names.fulfillment_events, fulfil(traced_order), fulfilled_trace)
            publish(producer, names.fulfillment_events, fulfil(untraced_order), None)

            def of(topic: str, order: OrderPlaced) -> Callable[[Seen], bool]:
                return lambda seen: seen.topic == topic and seen.value.get("order_id") == order.order_id

            fulfilled = parse_traceparent(fulfilled_trace)
            assert fulfilled is not None
            shipped = topics.wait_for(of(names.shipped_orders, traced_order), "the traced order.shipped", worker)
            assert shipped.value["type"] == "order.shipped"
            assert shipped.trace.trace_id == fulfilled.trace_id and shipped.trace.span_id != fulfilled.span_id
            push = topics.wait_for(of(names.buyer_pushes, traced_order), "the traced order's push", worker)
            assert push.trace.trace_id == fulfilled.trace_id
            assert len({shipped.trace.span_id, push.trace.span_id, fulfilled.span_id}) == 3

            untraced = topics.wait_for(of(names.shipped_orders, untraced_order), "the untraced order.shipped", worker)
            assert untraced.trace.trace_id not in (fulfilled.trace_id, sent.trace_id, other.trace.trace_id)
        finally:
            topics.close()
            worker.stop()
