"""The one retry mechanism of the sinks that call a platform (seller orders, buyer tracking, new-order emails).

A sink's attempt either succeeds or fails. A failure is classified once (`Failure.of`): a `RetryableError` (429,
5xx, timeouts, after the connector's short in-call retries) or anything unexpected may go away and is tried again
later; a `PermanentError` (the platform refused, with its message) is not. The sink then hands it to its
`RetryOutbox`, which does the rest:
- `retry_or_give_up`: a retry record (the sink's own `RetryState` subclass: what to do again, plus the attempt
  count, the time it is due and the last error) on the sink's retry topic, in the partition of the record the
  attempt came from, due after a capped exponential backoff that honours the platform's `Retry-After`
  (`retry_delay`); after `MAX_ATTEMPTS` attempts, a `platform_rejected` dead letter saying it gave up;
- `reject`: a `platform_rejected` dead letter with the platform's message.
A retry record carries the trace of the attempt it follows in its Kafka headers (`ce_traceparent`, `ce_tracestate`:
`streams.kit.records.encode_internal`), so the retry agent handles it in the same trace. Retry records and dead
letters go through the worker's Faust producer (`Send`), which Faust flushes before it
commits the offset of the record being handled: a retry record is committed only after the attempt it describes
and the record replacing it were handed over, so a restart loses no retry (the record is read and attempted again).

Retry records go to the partition of the record they came from (each retry topic has as many partitions as
order-events), not by key: Faust's partitioner (murmur2) and confluent-kafka's (crc32) differ, and the table entry
the retry agent writes must land in the order's partition.

A retry agent waits for its record to be due in its loop (`until_due`), at most `MAX_DELAY`, so a waiting retry does
not take the place of a first attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from connectors.base import PermanentError, RetryableError, described
from schemas.events import DeadLetterReason
from streams.kit.dead_letters import DeadLetterMetrics, dead_letter, encode_dead_letter
from streams.kit.records import KafkaMessage, Send, decode_internal, encode_internal

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=1)
"""The wait before the first retry; each further attempt doubles it."""
MAX_DELAY = timedelta(seconds=60)
"""The longest wait between two attempts (also the longest a retry record holds its partition of the retry topic,
so it bounds how much a waiting retry can delay the retries queued behind it and a rebalance)."""
MAX_ATTEMPTS = 20
"""Attempts in all (about 15 minutes of retrying at the capped delay) before the sink gives up."""
MAX_ERROR_TEXT = 2000


class RetryState(BaseModel):
    """What every retry record carries: `attempt` attempts failed so far, the next may start at `not_before`, and
    the last attempt's error. Each sink subclasses it with what is to be done again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempt: int = Field(ge=1)
    not_before: AwareDatetime
    last_error: str


R = TypeVar("R", bound=RetryState)


@dataclass(frozen=True)
class Failure:
    """A failed attempt: whether it may be tried again, the text for the log and a dead letter, and how long the
    platform asked to wait (`Retry-After`)."""

    retryable: bool
    text: str
    retry_after_s: float | None = None
    unexpected: bool = False

    @classmethod
    def of(cls, error: Exception) -> Failure:
        """`PermanentError`: not retryable, the platform's message. `RetryableError`: retryable. Anything else: an
        unexpected error (a bug, a closed client), retryable, flagged so the caller logs its traceback."""
        if isinstance(error, PermanentError):
            return cls(False, described(error))
        if isinstance(error, RetryableError):
            return cls(True, described(error), error.retry_after_s)
        return cls(True, f"{type(error).__name__}: {error}", None, unexpected=True)


def retry_delay(attempt: int, retry_after_s: float | None = None) -> timedelta:
    """The wait after `attempt` failed attempts: `BASE_DELAY * 2**(attempt - 1)`, capped at `MAX_DELAY`, and no
    shorter than what the platform asked for (`retry_after_s`, itself capped at `MAX_DELAY`)."""
    exponent = min(max(attempt - 1, 0), 30)
    delay: timedelta = min(BASE_DELAY * (2 ** exponent), MAX_DELAY)
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(timedelta(seconds=retry_after_s), MAX_DELAY))
    return delay


async def sleep_until_due(not_before: datetime, clock: Callable[[], datetime],
                          sleep: Callable[[float], Awaitable[None]]) -> None:
    """Sleep until `not_before` by `clock`, at most `MAX_DELAY` (a record stamped by a clock far ahead waits no
    longer); return at once when it is due."""
    wait = min((not_before - clock()).total_seconds(), MAX_DELAY.total_seconds())
    if wait > 0:
        await sleep(wait)


class RetryOutbox:
    """Writes one sink's retry records and dead letters; see the module docstring for the contract.

    `stage` and `source` name the sink in its dead letters; `retries` is its retry topic."""

    def __init__(self, *, send: Send, retries: str, dead_letters: str, stage: str, source: str,
                 clock: Callable[[], datetime], metrics: DeadLetterMetrics,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._send = send
        self._retries = retries
        self._dead_letters = dead_letters
        self.stage = stage
        self._source = source
        self._clock = clock
        self._metrics = metrics
        self._sleep = sleep

    async def schedule(self, build: Callable[[int, datetime, str], R], *, key: str, partition: int, attempt: int,
                       failure: Failure) -> R | None:
        """Publish the retry record `build(attempt, not_before, last_error)` for attempt `attempt + 1`, keyed by
        `key` (an order id) in `partition`, and return it; None, sending nothing, once `attempt` reached
        `MAX_ATTEMPTS`. Raises if the producer refuses the record."""
        if attempt >= MAX_ATTEMPTS:
            return None
        record = build(attempt, self._clock() + retry_delay(attempt, failure.retry_after_s),
                       failure.text[:MAX_ERROR_TEXT])
        await self._send(self._retries, encode_internal(record, key=key, what=self._retries), partition)
        return record

    async def retry_or_give_up(self, build: Callable[[int, datetime, str], R], *, message: KafkaMessage,
                               order_id: str, attempt: int, failure: Failure, gave_up: str,
                               rejected_event_id: str | None = None) -> R | None:
        """`schedule` in the partition of `message` (the record the attempts came from); past `MAX_ATTEMPTS`,
        dead-letter `message` as `platform_rejected` with `gave_up` and the last error, and return None."""
        record = await self.schedule(build, key=order_id, partition=message.partition, attempt=attempt,
                                     failure=failure)
        if record is None:
            await self.reject(message, order_id=order_id, rejected_event_id=rejected_event_id,
                              text=f"{gave_up} in {attempt} attempts; last error: {failure.text}")
        return record

    async def reject(self, message: KafkaMessage, *, order_id: str, text: str,
                     rejected_event_id: str | None = None, reason: DeadLetterReason = "platform_rejected") -> None:
        """Dead-letter `message` as `reason` (by default `platform_rejected`) with `text`, keyed by `order_id`.
        Raises if the producer refuses the letter."""
        letter = dead_letter(message, reason=reason, text=text, order_id=order_id,
                             rejected_event_id=rejected_event_id, at=self._clock(), stage=self.stage)
        await self._send(self._dead_letters, encode_dead_letter(letter, key=order_id, source=self._source), None)
        self._metrics.count(letter)
        log.warning("%s: dead-lettered order %s as %s: %s", self.stage, order_id, reason, text)

    def until_due(self, model: type[RetryState]) -> Callable[[KafkaMessage], Awaitable[None]]:
        """The retry agent's wait: until the record (a `model`) is due, at most `MAX_DELAY`; at once for a record
        that is not one (its handler reports it). Never raises."""

        async def wait(message: KafkaMessage) -> None:
            record = decode_internal(model, message.value, "a retry record")
            if not isinstance(record, str):
                await sleep_until_due(record.not_before, self._clock, self._sleep)

        return wait

    async def sleep_until_due(self, record: RetryState) -> None:
        """Wait until `record` is due (at most `MAX_DELAY`): at once after `until_due`."""
        await sleep_until_due(record.not_before, self._clock, self._sleep)
