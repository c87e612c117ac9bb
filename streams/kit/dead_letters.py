"""Dead letters: the record of something fulfillsync could not apply, keeping the original record whole.

Every stage builds its dead letters here (`dead_letter`), encodes them here (`encode_dead_letter`) and counts them
in one metric (`DeadLetterMetrics`): `fulfillsync_dead_letters_total{stage,reason}`. A letter's id is
deterministic, so a stage that dead-letters the same record again after a restart publishes the same id.
"""

from __future__ import annotations

import base64
from datetime import datetime

from prometheus_client import CollectorRegistry

from schemas.cloudevents import header_map
from schemas.events import DeadLetter, OriginalRecord
from schemas.ids import event_id
from streams.kit.metrics import counter
from streams.kit.records import LEDGER_SOURCE, EncodedRecord, KafkaMessage, RebuiltMessage, encode_event, position


class DeadLetterMetrics:
    """`fulfillsync_dead_letters_total{stage,reason}`: every dead letter of the worker, whichever stage wrote it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.dead_letters = counter("fulfillsync_dead_letters", "Records dead-lettered, by stage and reason",
                                    ["stage", "reason"], registry=registry)

    def count(self, letter: DeadLetter) -> None:
        self.dead_letters.labels(letter.stage, letter.reason).inc()


def dead_letter(message: KafkaMessage, *, reason: str, text: str, order_id: str | None, rejected_event_id: str | None,
                at: datetime, stage: str = "ledger") -> DeadLetter:
    """The dead-letter record for `message`. Its id is deterministic: from the rejected event's id and the
    reason when the record parsed, else from the record's position."""
    if rejected_event_id is not None:
        letter_id = event_id("dead_letter", rejected_event_id, reason)
    else:
        letter_id = event_id("dead_letter", position(message), reason)
    return DeadLetter(
        event_id=letter_id, order_id=order_id, reason=reason, message=text, stage=stage,
        dead_lettered_at=at, original=_original(message),
    )


def encode_dead_letter(letter: DeadLetter, *, key: str, source: str = LEDGER_SOURCE) -> EncodedRecord:
    """`letter` as a dead-letters record keyed by `key` (its order id, or the rejected record's key)."""
    return encode_event(letter, order_id=key, record_id=letter.event_id, record_type=letter.type,
                        time=letter.dead_lettered_at, source=source)


def original_record(message: KafkaMessage) -> OriginalRecord:
    """The parts of `message` a retry record keeps, so a later dead letter still names the record it came from
    (key and value as text, undecodable bytes replaced)."""
    key, value = message.key, message.value
    return OriginalRecord(topic=message.topic, partition=message.partition, offset=message.offset,
                          key=key.decode("utf-8", "replace") if key is not None else None,
                          value=value.decode("utf-8", "replace") if value is not None else None,
                          headers=list(header_map(message.headers).items()))


def message_of(original: OriginalRecord) -> KafkaMessage:
    """The record an `OriginalRecord` describes, rebuilt (for a dead letter written after retries)."""
    return RebuiltMessage(topic=original.topic, partition=original.partition, offset=original.offset,
                          key=_bytes(original.key), value=_bytes(original.value), headers=original.headers)


def _original(message: KafkaMessage) -> OriginalRecord:
    value_text: str | None = None
    value_b64: str | None = None
    if message.value is not None:
        try:
            value_text = message.value.decode("utf-8")
        except UnicodeDecodeError:
            value_b64 = base64.b64encode(message.value).decode()
    headers = list(header_map(message.headers).items())
    return OriginalRecord(
        topic=message.topic, partition=message.partition, offset=message.offset,
        key=message.key.decode("utf-8", "replace") if message.key is not None else None,
        value=value_text, value_base64=value_b64, headers=headers,
    )


def _bytes(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None
