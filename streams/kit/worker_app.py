"""The worker's Faust app (`WorkerApp`): Faust's `App` with four guarantees Faust does not give by itself.

1. **A failed delivery is never committed past.** aiokafka's `flush()` waits for the batches in flight but does not
   raise for the records that failed (a record too large for the topic, a delivery timeout while the broker is
   away, an authorisation error), and Faust flushes its producer just before it commits offsets. `WorkerApp`
   watches the delivery result of every record its producer sends (outputs, dead letters, retry and push records,
   table changelogs) and makes that pre-commit flush raise once any delivery failed: the commit does not happen,
   the worker crashes and exits non-zero with a critical log line naming the topic and the error, and after the
   restart every record whose outputs were lost is read again (the ledger and the sinks are idempotent).
2. **A bounded shutdown.** Faust waits, when stopping, until every record its agents took is acked; an agent that
   runs its records in `streams.kit.lanes` may hold one for long (a poll walking many pages, a retry waiting until
   it is due). At shutdown (not at a rebalance, where Faust must wait so two workers never run one order's work
   at once) it waits at most `SHUTDOWN_WAIT_S`, logs what was still in flight, commits what was acked and goes
   on: the records not acked are read again after the restart.
3. **No commit past a record fetched and not acked** (`CommitGuard`): Faust's commit accepts a gap of one offset.
4. **Stop hooks** (`stop_hooks`): run once the agents, consumer and producer have stopped (closing connectors'
   HTTP clients), each one whatever the others did.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import faust

log = logging.getLogger(__name__)

StopHook = Callable[[], Awaitable[None]]
SHUTDOWN_WAIT_S = 10.0
"""The longest a stopping worker waits for the records its agents took to be acked (Kubernetes' default grace
period is 30 s; the rest of the shutdown takes a few seconds)."""


class DeliveryFailed(Exception):
    """A record the worker's producer sent was not delivered; the offsets of what produced it must not be
    committed."""


class DeliveryWatch:
    """Remembers the first delivery failure of the producer's records (`observe` is a future's done callback)."""

    def __init__(self) -> None:
        self.failure: str | None = None
        self.failed = 0

    def observe(self, topic: str, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            error: BaseException | None = asyncio.CancelledError("the send was cancelled")
        else:
            error = future.exception()
        if error is None:
            return
        self.failed += 1
        if self.failure is None:
            self.failure = f"a record for {topic}: {type(error).__name__}: {error}"
            log.critical("a record was not delivered (%s); the worker stops before committing past it",
                         self.failure)

    def check(self) -> None:
        """Raise `DeliveryFailed` if any delivery failed so far."""
        if self.failure is not None:
            raise DeliveryFailed(f"{self.failed} record(s) not delivered, first: {self.failure}; nothing past them "
                                 "is committed, and they are produced again after the restart")


class CommitGuard:
    """Never commits past a record that was fetched and not acked.

    Faust commits when the lowest acked offset is one past the committed one (`min(acked) - committed > 1` refuses
    only larger gaps: its gap bookkeeping after a seek misses the record at the committed offset itself, which may
    have been deleted by retention). So a record at the committed offset that was handed to Faust and never acked
    (still in flight, or dropped from an agent's buffer when another agent restarted on a rebalance) would be skipped
    for good once the next one is acked. `CommitGuard` remembers, per partition of the acked topics, the offsets
    handed to Faust since the partition's last commit (`recording` wraps the consumer's message callback) and holds
    the commit back while the record at the committed offset is one of them and not acked: the partition's commits
    wait for its ack, or it is read again after the next rebalance or restart (logged once per partition and
    offset). A record never fetched is left to Faust's rule."""

    def __init__(self, acks_enabled_for: Callable[[str], bool]) -> None:
        self._acks_enabled_for = acks_enabled_for
        self._fetched: dict[Any, set[int]] = {}
        self._held_back: dict[Any, int] = {}

    def recording(self, callback: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Coroutine[Any, Any, None]]:
        """`callback` (the consumer's, called with each record it hands to Faust), noting the record's offset."""

        async def on_message(message: Any) -> None:
            if self._acks_enabled_for(message.topic):  # not the changelogs read during recovery: never committed
                self._fetched.setdefault(message.tp, set()).add(message.offset)
            await callback(message)

        return on_message

    def new_offset(self, consumer: Any, faust_new_offset: Callable[[Any], int | None], tp: Any) -> int | None:
        """What `consumer._new_offset(tp)` returns: Faust's answer, or None while the rule above holds it back."""
        committed = consumer._committed_offset[tp]
        acked = consumer._acked[tp]
        fetched = self._fetched.get(tp, set())
        if committed is not None and acked and min(acked) > committed and committed in fetched:
            if self._held_back.get(tp) != committed:
                self._held_back[tp] = committed
                log.warning("not committing %s past offset %d: that record was not acked yet (the lowest acked is "
                            "%d)", tp, committed, min(acked))
            return None
        offset = faust_new_offset(tp)
        if offset is not None and fetched:
            self._fetched[tp] = {number for number in fetched if number >= offset}
        return offset


class WorkerApp(faust.App):
    """See the module docstring."""

    stop_hooks: list[StopHook]
    commit_guard: CommitGuard
    bulk_restore: Any = None
    """The `streams.kit.bulk_restore.BulkRestore` its table recovery uses (None: Faust's recovery alone)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_hooks = []
        self.deliveries = DeliveryWatch()
        self._stopping = False

    def _new_consumer(self) -> Any:
        # Faust's own `_new_consumer`, with the message callback recorded by the commit guard
        guard = self.commit_guard = CommitGuard(self.topics.acks_enabled_for)
        consumer: Any = self.transport.create_consumer(
            callback=guard.recording(self.topics.on_message),
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
        )
        setattr(consumer, "_new_offset",  # noqa: B010 (an instance's method replaced on this instance only)
                functools.partial(guard.new_offset, consumer, consumer._new_offset))
        return consumer

    def _new_producer(self) -> Any:
        producer = super()._new_producer()
        watch = self.deliveries
        send, flush = producer.send, producer.flush

        async def watched_send(*args: Any, **kwargs: Any) -> Any:
            future = await send(*args, **kwargs)
            if isinstance(future, asyncio.Future):
                topic = str(kwargs.get("topic", args[0] if args else "?"))
                future.add_done_callback(functools.partial(watch.observe, topic))
            return future

        async def checked_flush() -> None:
            await flush()
            watch.check()

        setattr(producer, "send", watched_send)  # noqa: B010 (an instance's method replaced on this instance only)
        setattr(producer, "flush", checked_flush)  # noqa: B010
        return producer

    @property
    def stopping(self) -> bool:
        """True once the worker began to shut down (not during a rebalance); `/readyz` then answers 503."""
        return self._stopping

    async def on_stop(self) -> None:
        self._stopping = True
        await super().on_stop()

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        if not self._stopping:  # a rebalance: wait for work in flight, as Faust does
            await super()._consumer_wait_empty(consumer, logger)
            return
        log.info("shutdown: waiting at most %.0f s for the records in flight", SHUTDOWN_WAIT_S)
        # Faust's own `wait_empty` cannot be bounded from outside (it swallows the cancellation of its waits), so
        # this is its loop with a deadline, on the same (pinned) internals.
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        while _unacked(consumer) and time.monotonic() < deadline:
            await consumer.commit()
            await asyncio.sleep(0.2)
        unacked = _unacked(consumer)
        if unacked:
            where = sorted({f"{message.tp.topic}:{message.tp.partition}" for message in unacked})
            log.warning("shutdown: %d record(s) still in flight after %.0f s (%s); not committed, they are read "
                        "again after the restart", len(unacked), SHUTDOWN_WAIT_S, ", ".join(where))
        await consumer.commit_and_end_transactions()
        with warnings.catch_warnings():  # the consumer's own stop must not wait again, without a bound
            warnings.simplefilter("ignore")
            self.conf.stream_wait_empty = False

    async def on_shutdown(self) -> None:
        await super().on_shutdown()
        for hook in self.stop_hooks:
            try:
                await hook()
            except Exception:
                log.exception("a stop hook failed; the worker stops anyway")
        log.info("ran %d stop hook(s) (connectors closed)", len(self.stop_hooks))


def _unacked(consumer: Any) -> list[Any]:
    """The records the consumer handed to agents that are not acked yet."""
    consumer._clean_unacked_messages()
    return list(consumer._unacked_messages)
