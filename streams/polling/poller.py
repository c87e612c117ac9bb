"""The poller agent's work for one tick record. Never raises (an exception escaping the agent's loop loses the
record silently); every outcome is logged and counted in `fulfillsync_poll_ticks_total` or
`fulfillsync_polls_total`.

Per tick, in order:
1. a record that is not a tick: logged, ignored (`invalid`);
2. a connection missing from the configuration, or a `manual` one: logged, ignored (`unknown_connection`);
3. a tick more than one slot older than now (a backlog after downtime; a newer tick follows it): `stale`;
4. a slot that starts no later than the last slot polled for the connection: `duplicate` (duplicated ticks,
   two leaders during a rebalance, a tick re-read after a restart once its poll was recorded); a webhook's tick
   is a duplicate only when a poll began after the webhook arrived (that poll saw its change), so a burst of
   webhooks costs one poll, and a webhook poll leaves the schedule's slot as it was;
5. otherwise the connection is polled: a buyer's new orders become `order.placed` (`buyer_orders`); a seller's
   changed orders of ours become check records, read by the check agent (`seller_orders`); then
   the slot is recorded.
Poll failures: `RetryableError` (429, 5xx, timeouts), `PermanentError` (4xx, an unreadable cursor) and anything
else (the producer failing to deliver, a bug: `internal_error`) keep the cursor of the last fully published page and
the next tick tries again. Each failed poll is logged at debug level only; a connection whose last
`FAILING_AFTER` polls failed in a row is logged once as failing (an error, with the reason and, for an internal
error, its traceback) and `fulfillsync_poll_failing{connection}` is 1 until a poll succeeds, which is logged once
as recovered. They are not dead-lettered: dead letters carry one rejected record keyed by an order id, and a
failing store would add one every interval. One order the connector could not read is not a poll failure: it is
dead-lettered and the poll goes on (`streams.polling.rejects`).
If the worker dies during a poll, the slot is not recorded and the tick, not yet committed, is read again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from connectors.base import PermanentError, RetryableError, StoreConnector, described
from schemas.config import Config, Connection
from streams.kit.connectors import ConnectorCache
from streams.kit.records import KafkaMessage, position
from streams.polling.buyer_orders import BuyerOrderPublisher
from streams.polling.metrics import PollingMetrics
from streams.polling.seller_orders import SellerOrderScanner
from streams.polling.tables import CursorTable
from streams.polling.ticks import PollTick, decode_tick, slot_of

log = logging.getLogger(__name__)

FAILING_AFTER = 3
"""Polls of one connection failing in a row after which it is reported failing (logged once, gauge set)."""

ConnectorFactory = Callable[[Connection], StoreConnector]


class Poller:
    """Handles tick records for the connections of `config`, one connector per connection (made on first use
    by `connector_for`, closed by `aclose`)."""

    def __init__(self, *, config: Config, cursors: CursorTable, buyer: BuyerOrderPublisher,
                 seller: SellerOrderScanner, metrics: PollingMetrics, connector_for: ConnectorFactory,
                 clock: Callable[[], datetime]) -> None:
        self._connections = {connection.id: connection for connection in config.connections}
        self._cursors = cursors
        self._buyer = buyer
        self._seller = seller
        self._metrics = metrics
        self._connectors = ConnectorCache(connector_for)
        self._clock = clock
        self._failures: dict[str, int] = {}

    async def process(self, message: KafkaMessage) -> None:
        """Handle one tick record (see the module docstring). Never raises."""
        try:
            await self._process(message)
        except Exception:
            self._metrics.ticks.labels("internal_error").inc()
            log.exception("poller failed on tick %s; the next tick tries again", position(message))

    async def aclose(self) -> None:
        """Close every connector's HTTP client."""
        await self._connectors.aclose()

    async def _process(self, message: KafkaMessage) -> None:
        tick = decode_tick(message.value)
        if isinstance(tick, str):
            self._metrics.ticks.labels("invalid").inc()
            log.warning("ignoring record %s on the poll-ticks topic: %s", position(message), tick)
            return
        connection = self._connections.get(tick.connection_id)
        if connection is None or connection.platform == "manual":
            self._metrics.ticks.labels("unknown_connection").inc()
            log.warning("ignoring poll tick for connection %r: %s", tick.connection_id[:64],
                        "not in the configuration" if connection is None else "platform manual has nothing to poll")
            return
        now = self._clock()
        if tick.slot < slot_of(now, tick.interval_ms, tick.phase_ms) - 1:
            self._metrics.ticks.labels("stale").inc()
            log.debug("stale poll tick for %s (slot %d) ignored", connection.id, tick.slot)
            return
        state = self._cursors.get(connection.id)
        if tick.reason == "webhook":
            covered = state.polled_at is not None and state.polled_at >= tick.published_at
        else:
            covered = tick.slot_start_ms <= state.slot_start_ms
        if covered:
            self._metrics.ticks.labels("duplicate").inc()
            log.debug("%s poll tick for %s: slot %d already polled", tick.reason, connection.id, tick.slot)
            return
        self._metrics.ticks.labels("polled").inc()
        outcome = await self._poll(connection, tick)
        self._metrics.polls.labels(connection.id, outcome).inc()
        self._track(connection, outcome)
        slot_start_ms = tick.slot_start_ms if tick.reason == "schedule" else state.slot_start_ms
        self._cursors.mark_polled(connection.id, slot_start_ms=slot_start_ms, interval_ms=tick.interval_ms, at=now)

    def _track(self, connection: Connection, outcome: str) -> None:
        """Count a failed poll, or clear the count after a good one; log the change of state (see the module
        docstring) once."""
        if outcome == "ok":
            self._metrics.last_success.labels(connection.id).set(self._clock().timestamp())
            failed = self._failures.pop(connection.id, 0)
            if failed >= FAILING_AFTER:
                self._metrics.failing.labels(connection.id).set(0)
                log.warning("polls of %s recovered after %d failed in a row", connection.id, failed)
            return
        failed = self._failures[connection.id] = self._failures.get(connection.id, 0) + 1
        if failed == FAILING_AFTER:
            self._metrics.failing.labels(connection.id).set(1)

    def _failed(self, connection: Connection, outcome: str, reason: str, *, traceback: bool = False) -> str:
        """Log one failed poll: debug, unless it makes the connection failing (the next count reaches
        `FAILING_AFTER`), then an error naming the reason. Returns `outcome`."""
        if self._failures.get(connection.id, 0) + 1 == FAILING_AFTER:
            log.error("polls of %s are failing: %d in a row (%s), the cursor is kept and every tick tries again; "
                      "last: %s", connection.id, FAILING_AFTER, outcome, reason, exc_info=traceback)
        else:
            log.debug("poll of %s failed (%s; cursor kept, the next tick tries again): %s", connection.id, outcome,
                      reason, exc_info=traceback)
        return outcome

    async def _poll(self, connection: Connection, tick: PollTick) -> str:
        """Poll once; the outcome label. Connector errors are handled here, anything else by `process`."""
        try:
            if connection.role == "seller":
                scan = await self._seller.poll(connection, self._connectors.get(connection))
                log.log(logging.INFO if scan.checks_requested else logging.DEBUG,
                        "polled %s (slot %d): %d page(s), %d order(s) changed, %d of ours to read", connection.id,
                        tick.slot, scan.pages, scan.orders_seen, scan.checks_requested)
                return "ok"
            result = await self._buyer.poll(connection, self._connectors.get(connection))
        except RetryableError as error:
            return self._failed(connection, "retryable_error", described(error))
        except PermanentError as error:
            return self._failed(connection, "permanent_error", f"refused by the platform: {described(error)}")
        except Exception as error:  # noqa: BLE001 - logged with its traceback; never escapes the agent
            return self._failed(connection, "internal_error", f"{type(error).__name__}: {error}", traceback=True)
        log.log(logging.INFO if result.orders_seen else logging.DEBUG,
                "polled %s (slot %d): %d page(s), %d order(s) changed, %d order.placed published", connection.id,
                tick.slot, result.pages, result.orders_seen, result.events_published)
        return "ok"
