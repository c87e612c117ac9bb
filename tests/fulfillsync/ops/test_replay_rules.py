"""What `fulfillsync replay` refuses and how it marks its copies (`fulfillsync.ops.replay`), without a broker."""

from __future__ import annotations

import pytest

from fulfillsync.ops.reading import Record, Start
from fulfillsync.ops.replay import REPLAYED_FROM, Refused, Replay, ReplayRequest, full_topic_name, replayed_headers
from schemas.config import KafkaSettings
from schemas.topics import TopicNames

KAFKA = KafkaSettings(topic_prefix="shop")
NAMES = TopicNames("shop")
EXISTING = {name: 4 for name in NAMES.public} | {NAMES.poll_ticks: 4, "theirs.small": 2, "theirs.big": 8}


def check(topic: str, target: str | None = None) -> None:
    Replay(KAFKA, ReplayRequest(topic, Start(), target=target)).check(EXISTING.get)


def test_inputs_and_shipped_orders_replay_into_themselves_and_anything_into_a_large_enough_topic_of_ones_own() -> None:
    for topic in ("order-events", "fulfillment-events", "shipped-orders", "shop.shipped-orders"):
        check(topic)
    check("dead-letters", target="theirs.big")


@pytest.mark.parametrize(("topic", "target", "said"), [
    ("dead-letters", None, "dead-letters requeue"),
    ("poll-ticks", None, "cannot be replayed into itself"),
    ("nope", None, "does not exist"),
    ("shipped-orders", "theirs.missing", "create it first, with at least 4 partitions"),
    ("shipped-orders", "theirs.small", "has 2 partitions, fewer than the 4"),
    ("shipped-orders", "order-events", "one of fulfillsync's own topics"),
])
def test_unsafe_replays_are_refused_saying_why(topic: str, target: str | None, said: str) -> None:
    with pytest.raises(Refused, match=said):
        check(topic, target)


def test_a_copy_names_its_original_once_and_keeps_every_other_header() -> None:
    original = Record(NAMES.order_events, 3, 41, 0, b"o-1", b"{}",
                      [("ce_id", b"e-1"), (REPLAYED_FROM, b"shop.order-events:0:7")])
    assert replayed_headers(original) == [("ce_id", b"e-1"), (REPLAYED_FROM, b"shop.order-events:3:41")]


def test_a_request_selects_by_order_and_type() -> None:
    record = Record(NAMES.order_events, 0, 1, 0, b"o-1", b'{"type": "order.placed"}', [])
    assert ReplayRequest("order-events", Start()).wants(record)
    assert ReplayRequest("order-events", Start(), order_ids=frozenset({"o-1"}),
                         types=frozenset({"order.placed"})).wants(record)
    assert not ReplayRequest("order-events", Start(), order_ids=frozenset({"o-2"})).wants(record)
    assert not ReplayRequest("order-events", Start(), types=frozenset({"order.buyer_cancelled"})).wants(record)
    assert full_topic_name(NAMES, "order-events") == full_topic_name(NAMES, "shop.order-events") == NAMES.order_events
