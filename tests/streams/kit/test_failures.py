"""`streams.kit.failures`: a transient error is retried in place and, past the bound, stops the worker without
returning; an unexpected error is tried again, then recorded once as a bug; nothing transient is ever recorded."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError  # type: ignore[import-untyped]
from confluent_kafka import KafkaException

from streams.kit.failures import BUG_ATTEMPTS, InPlaceRetry, is_transient


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(("error", "transient"), [
    (OSError(28, "No space left on device"), True),
    (TimeoutError(), True),
    (KafkaTimeoutError(), True),
    (KafkaException("1 record(s) failed: Local: Message timed out"), True),
    (Exception("IO error: While appending to file: /state/000012.log: No space left on device"), True),
    (Exception("Resource busy: "), True),
    (KeyError("line"), False),
    (ValueError("not a number"), False),
])
def test_what_counts_as_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_transient_error_is_retried_in_place_with_a_capped_backoff_then_succeeds() -> None:
    clock, calls, bugs, crashes = Clock(), [0], [], []

    async def work() -> None:
        calls[0] += 1
        if calls[0] < 8:
            raise OSError("broker away")

    async def crash(error: BaseException) -> None:
        crashes.append(error)

    async def on_bug(error: Exception) -> None:
        bugs.append(error)

    retry = InPlaceRetry(crash, sleep=clock.sleep, monotonic=clock.monotonic)
    asyncio.run(retry.run(work, what="record 1", on_bug=on_bug))
    assert calls == [8] and bugs == [] and crashes == []
    assert clock.slept == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_past_the_bound_the_worker_is_crashed_and_the_record_never_returns() -> None:
    clock, crashes = Clock(), []

    async def work() -> None:
        raise OSError(28, "No space left on device")

    async def crash(error: BaseException) -> None:
        crashes.append(error)

    async def on_bug(error: Exception) -> None:
        raise AssertionError("a transient error is never recorded as a bug")

    retry = InPlaceRetry(crash, sleep=clock.sleep, monotonic=clock.monotonic, bound_s=30)

    async def scenario() -> None:
        task = asyncio.create_task(retry.run(work, what="record 1", on_bug=on_bug))
        while not crashes:
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        assert not task.done(), "the record must not be handled (acked) once the worker is crashing"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert len(crashes) == 1 and clock.now >= 30


def test_an_unexpected_error_that_repeats_is_recorded_once_as_a_bug() -> None:
    clock, calls, bugs = Clock(), [0], []

    async def work() -> None:
        calls[0] += 1
        raise KeyError("L9")

    async def crash(error: BaseException) -> None:
        raise AssertionError("a bug does not stop the worker")

    async def on_bug(error: Exception) -> None:
        bugs.append(error)

    asyncio.run(InPlaceRetry(crash, sleep=clock.sleep, monotonic=clock.monotonic).run(work, what="r",
                                                                                         on_bug=on_bug))
    assert calls == [BUG_ATTEMPTS] and [type(bug) for bug in bugs] == [KeyError]


def test_recording_the_bug_is_itself_retried_while_it_fails_transiently() -> None:
    clock, recorded = Clock(), []
    failures = [OSError("away"), OSError("away")]

    async def work() -> None:
        raise KeyError("L9")

    async def crash(error: BaseException) -> None:
        raise AssertionError("unexpected crash")

    async def on_bug(error: Exception) -> None:
        if failures:
            raise failures.pop()
        recorded.append(error)

    asyncio.run(InPlaceRetry(crash, sleep=clock.sleep, monotonic=clock.monotonic).run(work, what="r",
                                                                                         on_bug=on_bug))
    assert len(recorded) == 1 and failures == []
