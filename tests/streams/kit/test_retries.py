"""`streams.kit.retries`: the one retry mechanism of the sinks (backoff honouring `Retry-After`, attempts, the
retry record in the partition it came from, giving up into a dead letter, the failure classification)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from connectors.base import PermanentError, RetryableError
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.records import EncodedRecord, RebuiltMessage
from streams.kit.retries import MAX_ATTEMPTS, MAX_DELAY, Failure, RetryOutbox, RetryState, retry_delay

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


class Retry(RetryState):
    order_id: str


def build(order_id: str) -> Callable[[int, datetime, str], Retry]:
    def make(attempt: int, not_before: datetime, last_error: str) -> Retry:
        return Retry(order_id=order_id, attempt=attempt, not_before=not_before, last_error=last_error)
    return make


def outbox(sent: list[tuple[str, EncodedRecord, int | None]], registry: CollectorRegistry,
           slept: list[float] | None = None) -> RetryOutbox:
    async def send(topic: str, record: EncodedRecord, partition: int | None) -> None:
        sent.append((topic, record, partition))

    async def sleep(seconds: float) -> None:
        (slept if slept is not None else []).append(seconds)

    return RetryOutbox(send=send, retries="p.retries", dead_letters="p.dead-letters", stage="a_sink",
                       source="/fulfillsync/a-sink", clock=lambda: NOW, metrics=DeadLetterMetrics(registry),
                       sleep=sleep)


def test_the_delay_doubles_from_one_second_is_capped_and_never_shorter_than_retry_after() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [1, 2, 4, 60, 60, 60]
    assert retry_delay(1, 30).total_seconds() == 30
    assert retry_delay(1, 3600) == MAX_DELAY
    assert retry_delay(6, 5).total_seconds() == 32


def test_failures_are_classified_once() -> None:
    refused = Failure.of(PermanentError("refused", connection="c1", platform_message="no such order"))
    assert not refused.retryable and "no such order" in refused.text
    retryable = Failure.of(RetryableError("busy", connection="c1", retry_after_s=7))
    assert (retryable.retryable, retryable.retry_after_s, retryable.unexpected) == (True, 7, False)
    unexpected = Failure.of(KeyError("x"))
    assert unexpected.retryable and unexpected.unexpected and unexpected.text.startswith("KeyError")


def test_a_retry_goes_to_the_partition_of_the_record_it_came_from_then_gives_up_into_one_dead_letter() -> None:
    sent: list[tuple[str, EncodedRecord, int | None]] = []
    registry = CollectorRegistry()
    box = outbox(sent, registry)
    message = RebuiltMessage("p.order-events", 3, 41, b"o1", b"{}", [])
    failure = Failure(True, "HTTP 503 " + "x" * 3000, retry_after_s=10)
    record = asyncio.run(box.retry_or_give_up(build("o1"), message=message, order_id="o1", attempt=2,
                                              failure=failure, gave_up="could not do o1"))
    assert record is not None and record.not_before == NOW + timedelta(seconds=10)
    topic, encoded, partition = sent[0]
    assert (topic, partition, encoded.key) == ("p.retries", 3, b"o1")
    assert Retry.model_validate_json(encoded.value) == record and len(record.last_error) == 2000
    given_up = asyncio.run(box.retry_or_give_up(build("o1"), message=message, order_id="o1", attempt=MAX_ATTEMPTS,
                                                failure=failure, gave_up="could not do o1"))
    assert given_up is None
    topic, encoded, partition = sent[1]
    letter = json.loads(encoded.value)
    assert (topic, letter["reason"], letter["stage"]) == ("p.dead-letters", "platform_rejected", "a_sink")
    assert letter["message"].startswith(f"could not do o1 in {MAX_ATTEMPTS} attempts; last error: HTTP 503")
    assert letter["original"]["offset"] == 41 and len(sent) == 2
    assert registry.get_sample_value("fulfillsync_dead_letters_total",
                                     {"stage": "a_sink", "reason": "platform_rejected"}) == 1


@pytest.mark.parametrize(("due_in", "expected"), [(-5, []), (12.5, [12.5]), (3600, [60.0])])
def test_the_retry_agent_waits_until_due_at_most_the_longest_delay(due_in: float, expected: list[float]) -> None:
    slept: list[float] = []
    box = outbox([], CollectorRegistry(), slept)
    record = Retry(order_id="o1", attempt=1, not_before=NOW + timedelta(seconds=due_in), last_error="e")
    wait = box.until_due(Retry)

    async def both() -> None:
        await wait(RebuiltMessage("p.retries", 0, 0, b"o1", record.model_dump_json().encode(), []))
        await wait(RebuiltMessage("p.retries", 0, 1, b"o1", b"not a retry", []))  # at once: its handler reports it

    asyncio.run(both())
    assert slept == expected
