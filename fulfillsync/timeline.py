"""Reading shipped-orders and dead-letters back, and describing each record in one line a person can read."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError

from schemas.config import Config
from schemas.topics import TopicNames

Outcome = dict[str, Any]


def describe(record: Outcome, references: dict[str, str] | None = None) -> str:
    """One line for a shipped-orders or dead-letters value (already parsed from JSON).

    Orders are named by the buyer's order reference when the record or `references` (order id -> reference,
    updated from every record that carries one) knows it, else by our order id.
    """
    kind = record.get("type")
    references = {} if references is None else references
    order_id = record.get("order_id") or "?"
    buyer_ref = (record.get("buyer") or {}).get("order_ref")
    if buyer_ref:
        references[order_id] = buyer_ref
    order = f"#{references[order_id]}" if order_id in references else order_id
    if kind == "order.shipped":
        parcels = "; ".join(_parcel(f) for f in record.get("fulfillments", []))
        units = sum(line["quantity"] for line in record.get("lines", []))
        return f"SHIPPED      order {order}: {units} unit(s) in {len(record.get('fulfillments', []))} " \
               f"fulfillment(s): {parcels}"
    if kind == "order.reopened":
        return f"REOPENED     order {order}: fulfillment {record.get('cause_fulfillment_id')} " \
               f"{'was cancelled' if record.get('cause') == 'fulfillment_cancelled' else 'changed'}; " \
               "no longer fully covered"
    if kind == "order.tracking_updated":
        return f"TRACKING     order {order}: {_parcel(record.get('fulfillment', {}))}"
    if kind == "dead_letter":
        return f"DEAD-LETTER  order {order}: {record.get('reason')}: {record.get('message')}"
    return f"OTHER        {json.dumps(record)[:200]}"


def _parcel(fulfillment: dict[str, Any]) -> str:
    numbers = ", ".join(fulfillment.get("tracking_numbers", [])) or "no tracking"
    return f"{fulfillment.get('fulfillment_id')} {fulfillment.get('carrier') or 'carrier unknown'} {numbers}"


def read_outcomes(config: Config, *, from_beginning: bool, stop: Callable[[], bool],
                  poll_timeout_s: float = 0.5) -> Iterator[Outcome]:
    """Yield parsed records of shipped-orders and dead-letters until `stop()` is true.

    A record whose value is not JSON is yielded as `{"type": "unreadable", ...}` rather than raising.
    """
    names = TopicNames(config.kafka.topic_prefix)
    consumer = Consumer({
        "bootstrap.servers": config.kafka.bootstrap_servers,
        "group.id": f"fulfillsync-watch-{uuid.uuid4()}",
        "auto.offset.reset": "earliest" if from_beginning else "latest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([names.shipped_orders, names.dead_letters])
    try:
        while not stop():
            message = consumer.poll(poll_timeout_s)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    yield {"type": "unreadable", "message": str(error)}
                continue
            try:
                yield json.loads(message.value() or b"null")
            except ValueError:
                yield {"type": "unreadable", "message": f"not JSON at {message.topic()}:{message.offset()}"}
    finally:
        consumer.close()


def watch_outcomes(config: Config, *, from_beginning: bool) -> None:
    """Print every outcome until interrupted (Ctrl-C)."""
    references: dict[str, str] = {}
    try:
        for record in read_outcomes(config, from_beginning=from_beginning, stop=lambda: False):
            print(f"{datetime.now():%H:%M:%S}  {describe(record, references)}", flush=True)
    except KeyboardInterrupt:
        pass


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> bool:
    """Poll `predicate` until it is true or `timeout_s` passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()
