"""`fulfillsync order show`: one order's story read from the topics and the worker's table changelogs, without a
running worker: the ledger's stored copy (lines, fulfillments, Shipped or not), the seller's order reference, what
was written to the buyer's store and when, the order's dead letters, and the timeline of every record about it
with its topic position.

Topics are read whole (every partition up to its end now) and filtered by key: records produced by Faust and by
confluent-kafka land in different partitions for the same key, so no partition can be skipped. An unreadable table
value is shown as such, never raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fulfillsync.ops.reading import Record, TopicRange
from ledger import OrderState
from schemas.config import Config
from schemas.topics import TopicNames
from streams.buyers.tables import BUYER_FULFILLMENTS
from streams.kit.tables import TableSpec, UnreadableEntry
from streams.orders.tables import ORDERS
from streams.sellers.tables import SELLER_ORDERS


@dataclass(frozen=True)
class Moment:
    """One record about the order: when, where, what."""

    at: datetime
    position: str
    type: str
    event_id: str | None
    summary: str


@dataclass
class OrderStory:
    """What the topics and changelogs say about one order (see the module docstring)."""

    order_id: str
    state: OrderState | None = None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Table name -> `{"at": last change, "value": the entry as JSON}` (or `{"unreadable": why}`)."""
    letters: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[Moment] = field(default_factory=list)

    @property
    def status(self) -> str:
        """`unknown` (no order.placed applied), `shipped`, `partially shipped`, `not shipped`, `nothing to ship`."""
        state = self.state
        if state is None or state.order is None:
            return "unknown"
        if state.is_shipped:
            return "shipped"
        if state.nothing_to_ship():
            return "nothing to ship"
        return "partially shipped" if any(state.active_units().values()) else "not shipped"

    def document(self) -> dict[str, Any]:
        """The story as JSON-ready data (`--json`)."""
        state = self.state
        return {
            "order_id": self.order_id, "status": self.status,
            "lines": [] if state is None or state.order is None else [
                {"line_id": line.line_id, "sku": line.sku, "ordered": line.quantity,
                 "to_ship": state.units_to_ship().get(line.line_id, 0),
                 "fulfilled": state.active_units().get(line.line_id, 0)} for line in state.order.lines],
            "buyer": None if state is None or state.order is None else state.order.buyer.model_dump(),
            "seller": None if state is None or state.order is None else state.order.seller.model_dump(),
            "fulfillments": [] if state is None else [
                {"fulfillment_id": record.fulfillment_id, "status": "cancelled" if record.cancelled else "active",
                 "carrier": record.carrier, "tracking_numbers": record.tracking_numbers,
                 "lines": {line.line_id: line.quantity for line in record.lines}}
                for record in state.fulfillments.values()],
            "shipped_event_id": None if state is None else state.shipped_event_id,
            "tables": self.tables, "dead_letters": self.letters,
            "timeline": [{"at": moment.at.isoformat(), "position": moment.position, "type": moment.type,
                          "event_id": moment.event_id, "summary": moment.summary} for moment in self.timeline],
        }


def _at(record: Record) -> datetime:
    return datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)


def _summary(kind: str, value: dict[str, Any]) -> str:
    """A few words about a record's value."""
    if kind == "fulfillment.recorded":
        lines = ", ".join(f"{line.get('quantity')} of {line.get('line_id')}" for line in value.get("lines", []))
        numbers = ", ".join(value.get("tracking_numbers", [])) or "no tracking"
        return f"{value.get('fulfillment_id')}: {lines} ({value.get('carrier') or 'carrier unknown'} {numbers})"
    if kind == "fulfillment.cancelled":
        return f"{value.get('fulfillment_id')} cancelled"
    if kind == "order.placed":
        seller_ref = (value.get("seller") or {}).get("order_ref")
        return f"seller order {seller_ref}" if seller_ref else "placed by the buyer"
    if kind == "dead_letter":
        return f"{value.get('stage')}: {value.get('reason')}: {str(value.get('message'))[:120]}"
    return ""


def _table_entry(spec: TableSpec[Any], record: Record) -> dict[str, Any]:
    if record.value is None:
        return {"at": _at(record).isoformat(), "value": None}
    try:
        return {"at": _at(record).isoformat(), "value": spec.decode(record.value).model_dump(mode="json")}
    except UnreadableEntry as error:
        return {"at": _at(record).isoformat(), "unreadable": str(error)}


def read_story(config: Config, order_id: str, advanced: Callable[[int], None] = lambda _: None) -> OrderStory:
    """The story of `order_id`. Raises `fulfillsync.ops.reading.ReadError` when a topic cannot be read."""
    names = TopicNames(config.kafka.topic_prefix)
    story = OrderStory(order_id)
    key = order_id.encode()
    for topic in (names.order_events, names.fulfillment_events, names.shipped_orders, names.dead_letters):
        with TopicRange(config.kafka, topic) as span:
            for record in span.records(advanced):
                if record.key != key:
                    continue
                value = record.parsed() or {}
                kind = record.type
                event = value.get("event_id")
                story.timeline.append(Moment(_at(record), record.position, kind,
                                             event if isinstance(event, str) else None, _summary(kind, value)))
                if topic == names.dead_letters:
                    story.letters.append(value)
    story.timeline.sort(key=lambda moment: (moment.at, moment.position))
    for spec in (ORDERS, SELLER_ORDERS, BUYER_FULFILLMENTS):
        latest: Record | None = None
        with TopicRange(config.kafka, spec.changelog(names.app_id)) as span:
            for record in span.records(advanced):
                if record.key == key:
                    latest = record
        if latest is None:
            continue
        story.tables[spec.name] = _table_entry(spec, latest)
        if spec is ORDERS and latest.value is not None:
            with contextlib.suppress(UnreadableEntry):  # shown as unreadable in `tables`
                story.state = ORDERS.decode(latest.value)
    return story


def find_order_ids(config: Config, buyer: str, ref: str, advanced: Callable[[int], None] = lambda _: None) -> list[str]:
    """The order ids of the buyer order `ref` on connection `buyer` (one per seller it was routed to), from the
    order.placed records on order-events."""
    names = TopicNames(config.kafka.topic_prefix)
    found: list[str] = []
    with TopicRange(config.kafka, names.order_events) as span:
        for record in span.records(advanced):
            if record.type != "order.placed":
                continue
            value = record.parsed() or {}
            party = value.get("buyer") or {}
            order_id = value.get("order_id")
            if (party.get("connection"), party.get("order_ref")) == (buyer, ref) and isinstance(order_id, str) \
                    and order_id not in found:
                found.append(order_id)
    return found
