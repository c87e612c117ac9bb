"""`fulfillsync dead-letters list|show|requeue`: the dead letters of a deployment, what each means, and sending
one back where it can now have an effect.

A letter is requeued where its stage would take it again (`decide`):
- `ledger`: the input is re-published on its topic and partition under a new event id (the ledger remembers the
  old one as rejected) only when the ledger, applied to the order's current state read from the `orders`
  changelog, would now accept it (e.g. `unknown_order` after the order arrived, `over_fulfillment` after a
  cancellation freed units); otherwise refused with what the ledger would say;
- `seller_orders`: a retry record on the seller-order retry topic with the attempts reset (the sink checks the
  configuration and its table again, then finds or creates the order); a `tenant_mismatch` only once the
  configuration routes the order to its seller;
- `buyer_tracking`: a retry record on the buyer-push retry topic with the attempts reset, marked requeued (the
  sink brings the buyer's copy of the order in line with the ledger, trying again the writes the buyer's platform
  refused for good);
- `polling`, `seller_fulfillments`: refused: the next poll or check reads the store again by itself.
Every requeue is recorded on the requeued-letters topic (keyed by letter id), and a letter recorded there is
refused, so the same letter is never requeued twice. The new event id is derived from the letter's id, so even a
requeue whose record was lost would be a duplicate the ledger drops.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from fulfillsync.ops.reading import Record, TopicRange, partition_count
from ledger import OrderState, Rejection, apply, new_state
from ledger.routing import placement_mismatch
from schemas.config import Config, KafkaSettings
from schemas.events import DeadLetter, InputEvent, OrderPlaced
from schemas.ids import event_id
from schemas.topics import TopicNames
from streams.buyers.records import RetryRecord as BuyerRetry
from streams.kit.dead_letters import message_of
from streams.kit.records import InvalidInput, decode_input, utc_now
from streams.orders.tables import ORDERS, decode_state
from streams.sellers.records import RetryRecord as SellerRetry

REQUEUED_FROM = "fulfillsync_requeued_from"
"""The header of a requeued record: the id of the dead letter it came from."""

ADVICE: dict[str, str] = {
    "invalid_payload": "The record is not a valid event (the message says which field). Fix whoever produced it; "
                       "a corrected event must be published anew (requeue cannot repair a record).",
    "invalid_quantity": "A quantity is zero, negative or not a whole number in the platform's data. Correct the "
                        "fulfillment in the seller's store; the next poll reads it again.",
    "invalid_order": "The order itself is inconsistent (e.g. a line twice). Correct it on the buyer's store.",
    "order_conflict": "Another order.placed for this order id disagrees with the stored one. Check which store "
                      "changed the order; `fulfillsync order show` shows both.",
    "over_fulfillment": "The fulfillment ships more units than are left. If a fulfillment was cancelled since, "
                        "requeue this letter; otherwise correct the seller's fulfillment.",
    "unknown_line": "The fulfillment names a line the order does not have. Correct the seller's fulfillment (or "
                    "the seller order's lines).",
    "multi_tracking_single_unit": "Several tracking numbers for one unit. Ask the seller which is right and "
                                  "correct the fulfillment.",
    "unknown_order": "The order had not arrived when the input came. Once `fulfillsync order show` shows the "
                     "order, requeue this letter.",
    "tenant_mismatch": "A connection tried to change an order it does not own, or the order is not routed to its "
                       "seller. Check the routes in the configuration; after fixing them, requeue.",
    "platform_rejected": "The platform refused the write (the message is the platform's). Fix the cause in the "
                         "store (a missing product, a closed order, credentials), then requeue.",
    "unknown_sku": "The seller's catalog has no product or variant with the SKU the message names, and the route "
                   "says `unknown_sku: reject`. Add it to the seller's catalog (or set the route to "
                   "`custom_line`), then requeue this letter.",
    "ambiguous_sku": "Several products or variants of the seller's catalog have the SKU the message names. Give "
                     "each a SKU of its own in the seller's store, then requeue this letter.",
    "internal_error": "A bug in fulfillsync. Report it with this letter; requeue after the fix.",
}


class RequeueRefused(ValueError):
    """A letter that requeuing would not help: the message says why."""


@dataclass(frozen=True)
class Letter:
    """A dead letter as read, with where it is."""

    record: Record
    letter: DeadLetter

    @property
    def id(self) -> str:
        return self.letter.event_id

    def original_value(self) -> dict[str, Any] | None:
        """The rejected record's value as a JSON object, None when it is not one."""
        try:
            value = json.loads(self.letter.original.value or "null")
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def connections(self) -> set[str]:
        """The connections the rejected record names (its source, its buyer and seller)."""
        value = self.original_value() or {}
        parties = [value.get(name) for name in ("source", "buyer", "seller")]
        return {party["connection"] for party in parties if isinstance(party, dict)
                and isinstance(party.get("connection"), str)}


@dataclass(frozen=True)
class Filters:
    """Which letters: each set given must contain the letter's value; `since`: dead-lettered at or after."""

    ids: frozenset[str] = field(default_factory=frozenset)
    reasons: frozenset[str] = field(default_factory=frozenset)
    stages: frozenset[str] = field(default_factory=frozenset)
    orders: frozenset[str] = field(default_factory=frozenset)
    connections: frozenset[str] = field(default_factory=frozenset)
    since: datetime | None = None

    def match(self, letter: Letter) -> bool:
        found = letter.letter
        return ((not self.ids or found.event_id in self.ids)
                and (not self.reasons or found.reason in self.reasons)
                and (not self.stages or found.stage in self.stages)
                and (not self.orders or found.order_id in self.orders)
                and (not self.connections or bool(self.connections & letter.connections()))
                and (self.since is None or found.dead_lettered_at >= self.since))


def letters_in(records: Iterable[Record], filters: Filters,
               unreadable: Callable[[Record], None] = lambda _: None) -> Iterator[Letter]:
    """The letters among `records` (read from dead-letters) matching `filters`; a record that is not a dead letter
    goes to `unreadable`."""
    for record in records:
        try:
            letter = Letter(record, DeadLetter.model_validate_json(record.value or b""))
        except ValidationError:
            unreadable(record)
            continue
        if filters.match(letter):
            yield letter


def summary(letters: Iterable[Letter]) -> list[dict[str, Any]]:
    """Letters counted by reason and stage, most first: `{"reason", "stage", "letters"}`."""
    counts = Counter((letter.letter.reason, letter.letter.stage) for letter in letters)
    return [{"reason": reason, "stage": stage, "letters": count}
            for (reason, stage), count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def described(letter: Letter) -> dict[str, Any]:
    """`fulfillsync dead-letters show`: the letter, its original record decoded, and what to do about it."""
    found = letter.letter
    return {"letter": json.loads(found.model_dump_json()), "at": letter.record.position,
            "original_decoded": letter.original_value(), "original_headers": dict(found.original.headers),
            "what_to_do": ADVICE.get(found.reason, "See docs/operations.md.")}


@dataclass(frozen=True)
class Requeue:
    """What requeuing a letter publishes: one record on `topic` in `partition`."""

    letter_id: str
    order_id: str | None
    topic: str
    partition: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    what: str
    kind: str
    """The type of the record published: the input's type, or `retry` for a retry record."""


def read_requeued(kafka: KafkaSettings) -> set[str]:
    """The ids of the letters requeued so far (empty when the topic does not exist yet). Raises
    `fulfillsync.ops.reading.ReadError` when it cannot be read."""
    topic = TopicNames(kafka.topic_prefix).requeued_letters
    if partition_count(kafka, topic) is None:
        return set()
    with TopicRange(kafka, topic) as span:
        return {record.key_text for record in span.records() if record.key_text is not None}


def current_states(kafka: KafkaSettings, letters: Iterable[Letter]) -> dict[str, OrderState]:
    """The ledger's latest state of each order that a `ledger` letter of `letters` names, from the orders changelog:
    each partition holding one of them read once. Orders without state are absent."""
    wanted: dict[int, set[bytes]] = {}
    for letter in letters:
        if letter.letter.stage == "ledger" and letter.letter.order_id:
            wanted.setdefault(letter.letter.original.partition, set()).add(letter.letter.order_id.encode())
    latest: dict[bytes, bytes | None] = {}
    changelog = ORDERS.changelog(TopicNames(kafka.topic_prefix).app_id)
    for partition, keys in wanted.items():
        with TopicRange(kafka, changelog, partitions=[partition]) as span:
            latest.update((record.key, record.value) for record in span.records() if record.key in keys)
    return {key.decode(): decode_state(value) for key, value in latest.items() if value is not None}


class Decider:
    """Decides, for one letter, the record that would requeue it (`decide`). `states`: the ledger's state of the
    orders of the `ledger` letters (`current_states`; an order absent has none yet)."""

    def __init__(self, config: Config, already: set[str], states: Mapping[str, OrderState],
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._config = config
        self._names = TopicNames(config.kafka.topic_prefix)
        self._already = already
        self._states = states
        self._clock = clock

    def decide(self, letter: Letter) -> Requeue:
        """The record that requeues `letter`. Raises `RequeueRefused` with the reason when it would not help."""
        found = letter.letter
        if found.event_id in self._already:
            raise RequeueRefused("already requeued (recorded on the requeued-letters topic)")
        if found.stage == "ledger":
            return self._ledger(letter)
        if found.stage == "seller_orders":
            return self._seller_order(letter)
        if found.stage == "buyer_tracking":
            return self._buyer_write(letter)
        if found.stage in ("polling", "seller_fulfillments"):
            raise RequeueRefused(f"a {found.stage} letter is about the store's data: the next poll reads it again "
                                 "by itself; correct the data in the store")
        raise RequeueRefused(f"no requeue for stage {found.stage}")

    def _input(self, letter: Letter) -> InputEvent:
        original = letter.letter.original
        allowed = self._names.input_types.get(original.topic)
        if allowed is None:
            raise RequeueRefused(f"the original record is on {original.topic}, not an input topic")
        event = decode_input(message_of(original), allowed)
        if isinstance(event, InvalidInput):
            raise RequeueRefused(f"the original record is not a valid input ({event.message}): requeuing it would "
                                 "be rejected again; publish a corrected event")
        return event

    def _ledger(self, letter: Letter) -> Requeue:
        event = self._input(letter)
        renewed = event.model_copy(update={"event_id": event_id("requeue", letter.id)})
        state = self._states.get(event.order_id) or new_state(event.order_id)
        result = apply(state, renewed)
        if result.status != "applied":
            said = ", ".join(output.message for output in result.outputs if isinstance(output, Rejection))
            said = said or result.detail
            raise RequeueRefused(f"the ledger would not accept it now ({result.status}: {said})")
        headers = [(name, value.encode()) for name, value in letter.letter.original.headers if name != "ce_id"]
        return Requeue(letter.id, event.order_id, letter.letter.original.topic, letter.letter.original.partition,
                       event.order_id.encode(), renewed.model_dump_json().encode(),
                       [*headers, ("ce_id", renewed.event_id.encode()), (REQUEUED_FROM, letter.id.encode())],
                       f"{event.type} re-published as {renewed.event_id}", event.type)

    def _seller_order(self, letter: Letter) -> Requeue:
        event = self._input(letter)
        if isinstance(event, OrderPlaced):
            mismatch = placement_mismatch(event, routes=self._config.routes, connections=self._config.connections)
            if mismatch is not None:
                raise RequeueRefused(f"the configuration still does not send this order to its seller: {mismatch}")
            record = SellerRetry(placed=event, attempt=1, not_before=self._clock(),
                                 last_error=f"requeued from dead letter {letter.id}", original=letter.letter.original)
        elif event.type == "order.buyer_cancelled":
            record = SellerRetry(cancelled=event, attempt=1, not_before=self._clock(),
                                 last_error=f"requeued from dead letter {letter.id}", original=letter.letter.original)
        else:
            raise RequeueRefused(f"a seller-order letter about {event.type}: nothing to send to the seller")
        return Requeue(letter.id, event.order_id, self._names.seller_order_retries, letter.letter.original.partition,
                       event.order_id.encode(), record.model_dump_json().encode(),
                       [(REQUEUED_FROM, letter.id.encode())], f"seller {event.type} tried again", "retry")

    def _buyer_write(self, letter: Letter) -> Requeue:
        order_id = letter.letter.order_id
        if not order_id:
            raise RequeueRefused("the letter names no order")
        record = BuyerRetry(order_id=order_id, attempt=1, not_before=self._clock(), requeued=True,
                            last_error=f"requeued from dead letter {letter.id}")
        return Requeue(letter.id, order_id, self._names.buyer_push_retries, letter.letter.original.partition,
                       order_id.encode(), record.model_dump_json().encode(), [(REQUEUED_FROM, letter.id.encode())],
                       "buyer order brought in line again", "retry")


def requeued_record(requeue: Requeue, at: datetime) -> tuple[bytes, bytes]:
    """The key and value recording `requeue` on the requeued-letters topic."""
    return requeue.letter_id.encode(), json.dumps({
        "letter_id": requeue.letter_id, "order_id": requeue.order_id, "topic": requeue.topic,
        "partition": requeue.partition, "requeued_at": at.isoformat(), "what": requeue.what}).encode()
