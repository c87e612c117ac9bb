"""Dead letters for what a poll cannot publish: orders a connector could not read (`Page.rejected`), and
`order.placed` events too large for the broker.

Each becomes one dead letter (`streams.kit.dead_letters`) on `<prefix>.dead-letters`, stage `polling`, keyed by the
order's ref on the platform (the connection id when the ref is unknown), sent through the worker's Faust producer
(`Send`) before the page's cursor is stored. The letter's `original` is the platform's payload: topic
`platform:<connection id>`, partition and offset -1, key the order ref, value the raw JSON (base64 when it is not
UTF-8). Its id is deterministic, from the connection, the order ref and the SHA-256 of the payload, so a re-read of
the same page (a restart, the cursor's overlap) gives the same id; this worker also remembers the last
`REMEMBERED` ids it sent and does not send them again. A send that fails raises (the poll fails, the cursor is not
stored, the next tick reads the page again).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from connectors.rejects import MAX_RAW_CHARS
from schemas.config import Connection
from schemas.events import DeadLetterReason, OrderPlaced
from schemas.ids import event_id
from schemas.platform import RejectedOrder
from streams.kit.dead_letters import DeadLetterMetrics, dead_letter, encode_dead_letter
from streams.kit.records import EncodedRecord, RebuiltMessage, Send, encode_event, source_of

log = logging.getLogger(__name__)

STAGE = "polling"
REMEMBERED = 10_000
MAX_EVENT_BYTES = 900_000
"""The largest `order.placed` (key, value and headers) a poll publishes. The broker's default `max.message.bytes`
for a topic is 1,048,588 bytes and librdkafka's `message.max.bytes` 1,000,000; about 10% is kept for the record
batch's overhead. A larger event would fail the producer's flush on every poll; it is dead-lettered instead."""


def event_size(record: EncodedRecord) -> int:
    """The bytes a record puts on the wire, near enough: key, value and headers."""
    return len(record.key) + len(record.value) + sum(len(name) + len(value) for name, value in record.headers)


class RejectLetters:
    """Writes the dead letters of one worker's polls. `topic` is `<prefix>.dead-letters`."""

    def __init__(self, *, send: Send, topic: str, metrics: DeadLetterMetrics, clock: Callable[[], datetime]) -> None:
        self._send = send
        self._topic = topic
        self._metrics = metrics
        self._clock = clock
        self._sent: OrderedDict[str, None] = OrderedDict()

    async def rejected(self, connection: Connection, rejected: RejectedOrder) -> bool:
        """Dead-letter one order the connector could not read, with its reason and message. False when this
        worker already sent the very same letter. Raises when the producer refuses it."""
        return await self._letter(connection, rejected.order_ref, rejected.raw, rejected.reason,
                                  f"{connection.platform} connection {connection.id!r}: {rejected.message}")

    async def oversized(self, connection: Connection, order_ref: str, event: OrderPlaced, size: int) -> bool:
        """Dead-letter an `order.placed` larger than `MAX_EVENT_BYTES` (the event itself as the original value,
        cut like any raw payload). Raises when the producer refuses it."""
        raw = event.model_dump_json().encode()
        message = (f"{connection.id}: buyer order {order_ref} -> order.placed {event.order_id} for seller "
                   f"{event.seller.connection} is {size} bytes, over the {MAX_EVENT_BYTES}-byte bound of one record "
                   f"({len(event.lines)} lines); not published")
        return await self._letter(connection, order_ref, raw[:MAX_RAW_CHARS], "invalid_order", message)

    async def _letter(self, connection: Connection, order_ref: str | None, raw: bytes, reason: DeadLetterReason,
                      text: str) -> bool:
        digest = hashlib.sha256(raw).hexdigest()
        rejected_id = event_id("rejected_platform_order", connection.id, order_ref or "", digest)
        key = order_ref or connection.id
        original = RebuiltMessage(topic=f"platform:{connection.id}", partition=-1, offset=-1, key=key.encode(),
                                  value=raw, headers=[("ce_source", source_of(connection).encode())])
        letter = dead_letter(original, reason=reason, text=text, order_id=None, rejected_event_id=rejected_id,
                             at=self._clock(), stage=STAGE)
        if letter.event_id in self._sent:
            return False
        await self._send(self._topic, encode_dead_letter(letter, key=key, source=source_of(connection)), None)
        self._metrics.count(letter)
        self._sent[letter.event_id] = None
        if len(self._sent) > REMEMBERED:
            self._sent.popitem(last=False)
        log.error("%s: order %s dead-lettered (%s, letter %s): %s", connection.id, order_ref or "(no readable id)",
                  reason, letter.event_id, text)
        return True


def placed_size(event: OrderPlaced, connection: Connection) -> int:
    """The size of `event` as the idempotent producer would publish it (`streams.kit.producer.KafkaEventSink`)."""
    return event_size(encode_event(event, order_id=event.order_id, record_id=event.event_id, record_type=event.type,
                                   time=event.occurred_at, source=source_of(connection)))
