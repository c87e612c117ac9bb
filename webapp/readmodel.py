"""The web app's read model (docs/webapp.md): what the pages show of each order, built from the topics.

- `order_view(state, writes, letters, sent)`: pure. One order's `OrderView` from the ledger's state, what the buyer
  tracking sink wrote to the buyer (`BuyerWrites`), the order's dead letters and the fulfillments the web app sent
  (fulfillment id -> the `source_version` it sent). No Kafka, no clock.
- `TopicReadModel(config)`: the live `ReadModel`. A background thread reads, with no consumer group commits, the
  order table's changelog, the buyer-fulfillment table's changelog and dead-letters, and keeps per order the latest
  of each in a store on local disk (`webapp.readstore`, in `web.store_dir`), going on after a restart from the
  offsets the store holds; so every web process answers for every order whatever worker owns its partition.
  docs/webapp.md ("Read model") lists its failure behaviour.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
import zlib
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Self

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicCollection,
    TopicPartition,
)
from pydantic import ValidationError

from ledger import FulfillmentRecord, OrderState
from ledger.fulfillment_sync import buyer_action
from ledger.outputs import published_history, shipped_output
from schemas.config import Config
from schemas.events import (
    INPUT_EVENT_ADAPTER,
    DeadLetter,
    FulfillmentCancelled,
    FulfillmentRecorded,
    OrderPlaced,
    OrderReopened,
    OrderShipped,
    OrderTrackingUpdated,
    is_tracking_url,
)
from schemas.topics import TopicNames
from streams.buyers.sink import ledger_view
from streams.buyers.tables import BUYER_FULFILLMENTS, BuyerWrites
from streams.kit.kafka_clients import new_admin, new_consumer
from streams.orders.tables import ORDERS, decode_state
from webapp.model import FulfillmentStatus, FulfillmentView, LineView, OrderView, TimelineEntry
from webapp.outlines import Decoded, OutlineDecoder, index_fields
from webapp.readstore import Batch, OrderRow, OrderStore, Place, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observed:
    """When the read model first saw a change the topics carry no time for (record timestamps of the changelogs):
    a fulfillment turning cancelled, and the buyer-side write of a fulfillment's current version."""

    cancelled_at: Mapping[str, datetime] = field(default_factory=dict)
    pushed_at: Mapping[str, datetime] = field(default_factory=dict)


# -- the pure part --------------------------------------------------------------------------------------------


def order_view(state: OrderState, writes: BuyerWrites | None, letters: list[DeadLetter], sent: dict[str, datetime],
               *, observed: Observed | None = None) -> OrderView:
    """The page's view of one order. Raises `ValueError` for a state without its `order.placed` (only held inputs):
    the read model shows no such order.

    Fulfillment status: a fulfillment the ledger holds nothing of is rejected when a dead letter names it (for a
    version at least as new as the one sent), else pending (in `sent` only). One the ledger holds is cancelled
    (cancelled there); pending (`sent` holds a newer version, and no dead letter refused it); pushed (the buyer
    has a fulfillment matching the ledger's version); else applied. `reason` is also set on a fulfillment the ledger
    holds when its last change was dead-lettered (it stands as before) or the buyer's platform refused it for good
    (`BuyerWrites.refused`).
    """
    if state.order is None:
        raise ValueError(f"order {state.order_id} has no order.placed yet; there is nothing to show")
    placed = state.order
    writes = writes or BuyerWrites()
    observed = observed or Observed()
    ordered_letters = sorted(letters, key=lambda letter: letter.dead_lettered_at)
    fulfillments = _fulfillments(placed, state, writes, ordered_letters, sent)
    shipped = shipped_output(state)
    return OrderView(
        order_id=state.order_id, buyer=placed.buyer, seller=placed.seller, placed_at=placed.occurred_at,
        shipping=placed.shipping, lines=_lines(placed, state), fulfillments=fulfillments,
        shipped_at=shipped.shipped_at if shipped is not None else None,
        timeline=_timeline(placed, state, fulfillments, ordered_letters, observed), state=state,
    )


def _lines(placed: OrderPlaced, state: OrderState) -> tuple[LineView, ...]:
    fulfilled = state.active_units()
    views = []
    for line in placed.lines:
        done, cancelled = fulfilled.get(line.line_id, 0), state.buyer_cancelled.get(line.line_id, 0)
        views.append(LineView(line_id=line.line_id, sku=line.sku, title=line.title, ordered=line.quantity,
                              fulfilled=done, cancelled=cancelled,
                              remaining=max(0, line.quantity - cancelled - done)))
    return tuple(views)


RejectedEvent = FulfillmentRecorded | FulfillmentCancelled


@dataclass(frozen=True)
class _Letter:
    """A dead letter about one fulfillment: the rejected event when its record parses, and the version it stood for."""

    letter: DeadLetter
    event: RejectedEvent | None
    version: datetime


def _named_fulfillment(letter: DeadLetter) -> tuple[str, RejectedEvent | None] | None:
    """The fulfillment id a dead letter's original record names (and the event when it parses), or None."""
    value = letter.original.value
    if not value:
        return None
    try:
        event = INPUT_EVENT_ADAPTER.validate_json(value)
    except ValidationError:
        try:
            raw: Any = json.loads(value)
        except ValueError:
            return None
        named = raw.get("fulfillment_id") if isinstance(raw, dict) else None
        return (named, None) if isinstance(named, str) and named else None
    if isinstance(event, FulfillmentRecorded | FulfillmentCancelled):
        return event.fulfillment_id, event
    return None


def _letters_by_fulfillment(letters: Iterable[DeadLetter]) -> dict[str, _Letter]:
    """The newest dead letter naming each fulfillment (letters in time order)."""
    found: dict[str, _Letter] = {}
    for letter in letters:
        named = _named_fulfillment(letter)
        if named is not None:
            fulfillment_id, event = named
            found[fulfillment_id] = _Letter(letter, event, event.source_version if event else letter.dead_lettered_at)
    return found


def _platform_refusal(letters: Iterable[DeadLetter], fulfillment_id: str) -> str:
    """The buyer sink's message for a refused write of `fulfillment_id` (it names the fulfillment in its text)."""
    for letter in reversed(list(letters)):
        if letter.reason == "platform_rejected" and f"seller fulfillment {fulfillment_id} " in letter.message:
            return letter.message
    return "the buyer's platform refused this fulfillment; it is not tried again until the fulfillment changes"


def _fulfillments(placed: OrderPlaced, state: OrderState, writes: BuyerWrites, letters: list[DeadLetter],
                  sent: Mapping[str, datetime]) -> tuple[FulfillmentView, ...]:
    rejected = _letters_by_fulfillment(letters)
    views = []
    for fulfillment_id in sorted(set(state.fulfillments) | set(sent) | set(rejected)):
        record = state.fulfillments.get(fulfillment_id)
        known = [version for version in (record.source_version if record else None, sent.get(fulfillment_id))
                 if version is not None]
        found = rejected.get(fulfillment_id)
        refused = found if found is not None and all(found.version >= version for version in known) else None
        if record is None:
            views.append(_rejected(fulfillment_id, refused) if refused else _pending(fulfillment_id,
                                                                                     sent[fulfillment_id]))
        elif record.cancelled:
            views.append(_from_record(record, "cancelled"))
        elif refused is None and sent.get(fulfillment_id, record.source_version) > record.source_version:
            views.append(replace(_from_record(record, "pending"), recorded_at=sent[fulfillment_id]))
        else:
            views.append(_standing(placed, record, writes, letters, refused))
    return tuple(sorted(views, key=lambda view: (view.recorded_at, view.fulfillment_id)))


def _standing(placed: OrderPlaced, record: FulfillmentRecord, writes: BuyerWrites, letters: list[DeadLetter],
              refused: _Letter | None) -> FulfillmentView:
    """An active fulfillment the ledger holds: pushed when the buyer has its current version, else applied; the
    reason tells a refused later change, or the buyer's platform refusing it for good."""
    written = writes.get(record.fulfillment_id)
    pushed = (written is not None and written.fulfillment_ref is not None and not written.cancelled
              and buyer_action(ledger_view(placed, record), written) is None)
    reason = None
    if refused is not None:
        reason = f"Your last change was refused: {refused.letter.message}. The fulfillment stands as before."
    elif writes.refused.get(record.fulfillment_id) == f"{record.digest}:{record.cancelled}":
        reason = _platform_refusal(letters, record.fulfillment_id)
    return _from_record(record, "pushed" if pushed else "applied", reason=reason,
                        buyer_ref=written.fulfillment_ref if pushed and written is not None else None)


def _from_record(record: FulfillmentRecord, status: FulfillmentStatus, *, buyer_ref: str | None = None,
                 reason: str | None = None) -> FulfillmentView:
    """The view of a fulfillment the ledger holds. A tracking URL that is not an absolute http(s) URL
    (`schemas.events.is_tracking_url`) is left out: states written before input events were checked for it can hold
    `javascript:` or `data:` links, which the pages must not make links of."""
    return FulfillmentView(
        fulfillment_id=record.fulfillment_id, status=status, carrier=record.carrier,
        numbers=tuple(record.tracking_numbers),
        urls=tuple(url if url is not None and is_tracking_url(url) else None for url in record.tracking_urls),
        lines={line.line_id: line.quantity for line in record.lines}, recorded_at=record.source_version,
        buyer_ref=buyer_ref, reason=reason)


def _pending(fulfillment_id: str, sent_at: datetime) -> FulfillmentView:
    """A fulfillment the web app sent and the ledger has not applied yet (its content is in the event only)."""
    return FulfillmentView(fulfillment_id=fulfillment_id, status="pending", carrier=None, numbers=(), urls=(),
                           lines={}, recorded_at=sent_at)


def _rejected(fulfillment_id: str, found: _Letter) -> FulfillmentView:
    """A fulfillment the ledger holds nothing of, whose event was dead-lettered: what the event said, and why."""
    letter, event = found.letter, found.event
    if isinstance(event, FulfillmentRecorded):
        return FulfillmentView(
            fulfillment_id=fulfillment_id, status="rejected", carrier=event.carrier,
            numbers=tuple(event.tracking_numbers), urls=tuple(event.tracking_urls),
            lines={line.line_id: line.quantity for line in event.lines}, recorded_at=event.source_version,
            reason=letter.message)
    return FulfillmentView(fulfillment_id=fulfillment_id, status="rejected", carrier=None, numbers=(), urls=(),
                           lines={}, recorded_at=found.version, reason=letter.message)


def _units(placed: OrderPlaced, lines: Mapping[str, int]) -> str:
    skus = {line.line_id: line.sku for line in placed.lines}
    return ", ".join(f"{units} of {skus.get(line_id, line_id)}" for line_id, units in lines.items())


def _parcel(view: FulfillmentView) -> str:
    return f"{view.carrier or 'carrier not given'} {', '.join(view.numbers) or 'no tracking'}"


def _timeline(placed: OrderPlaced, state: OrderState, fulfillments: tuple[FulfillmentView, ...],
              letters: list[DeadLetter], observed: Observed) -> tuple[TimelineEntry, ...]:
    """Every step the topics show, oldest first (equal times keep the order: placed, fulfillments, outputs,
    letters). A time the topics do not carry (a cancellation that reopened nothing, a buyer-side write) is when
    the read model first saw it, and no earlier than the fulfillment's recording."""
    entries = [TimelineEntry(placed.occurred_at, "placed")]
    outputs = _outputs(state)
    reopened_by = {output.cause_fulfillment_id: output.reopened_at for output in outputs
                   if isinstance(output, OrderReopened) and output.cause == "fulfillment_cancelled"}
    for view in fulfillments:
        record = state.fulfillments.get(view.fulfillment_id)
        if record is None:
            continue  # pending or rejected: the fulfillment list shows it, the letters below tell the rejection
        if record.lines:
            entries.append(TimelineEntry(record.source_version, f"fulfilled {_units(placed, view.lines)} "
                                                                 f"({_parcel(view)})"))
        if record.cancelled:
            at = reopened_by.get(record.fulfillment_id) or observed.cancelled_at.get(record.fulfillment_id)
            entries.append(TimelineEntry(max(at or record.source_version, record.source_version),
                                         f"fulfillment {record.fulfillment_id} cancelled"))
        if view.status == "pushed":
            at = observed.pushed_at.get(record.fulfillment_id) or record.source_version
            entries.append(TimelineEntry(max(at, record.source_version),
                                         f"pushed to the buyer: {_units(placed, view.lines)} ({_parcel(view)})"))
    for output in outputs:
        if isinstance(output, OrderShipped):
            entries.append(TimelineEntry(output.shipped_at, "shipped"))
        elif isinstance(output, OrderReopened):
            why = "cancelled" if output.cause == "fulfillment_cancelled" else "changed"
            entries.append(TimelineEntry(output.reopened_at,
                                         f"reopened: fulfillment {output.cause_fulfillment_id} was {why}"))
        else:
            entries.append(TimelineEntry(output.updated_at, "tracking updated: "
                                         f"{output.fulfillment.carrier or 'carrier not given'} "
                                         f"{', '.join(output.fulfillment.tracking_numbers) or 'no tracking'}"))
    for letter in letters:
        entries.append(TimelineEntry(letter.dead_lettered_at, f"dead-lettered ({letter.reason}): {letter.message}"))
    return tuple(sorted(entries, key=lambda entry: entry.at))


def _outputs(state: OrderState) -> list[OrderShipped | OrderReopened | OrderTrackingUpdated]:
    """The ledger's published outputs the order's state still knows of (`ledger.outputs.published_history`)."""
    return published_history(state)


# -- the live part --------------------------------------------------------------------------------------------

METADATA_INTERVAL_S = 10.0
"""How often the reader looks for topics or partitions that appeared since it started (a web process started
before the first worker created the changelogs)."""


VIEW_CACHE = 2_000
"""Order views kept built (least recently read dropped first; some 27 KB each); the others are built again from the
store's bytes when a page asks."""

BATCH = 2_000
"""Records read at most at a time; once caught up, each such batch is written to the store in one transaction."""

LOAD_BATCH_RECORDS = 50_000
"""While catching up on a backlog (see `DECODE_AHEAD_MIN`), the batches read are written together, this many records
at most per transaction: every transaction rewrites each page of the order-id index its rows land on, and random ids
land on most of them, so a million orders written 2,000 at a time wrote the index some 500 times over."""

CONSUMER_QUEUE_KIB = 32_768
"""librdkafka's buffer of fetched records not yet read (half its default): while the reader writes a
`LOAD_BATCH_RECORDS` transaction, it goes on fetching the next ones (at a million orders from an empty store,
16 MiB took 33 s to ready where 32 MiB took 24 s)."""

DECODE_AHEAD_BATCHES = 24
"""Batches in the decoding process's hands while the reader writes older ones, about one `LOAD_BATCH_RECORDS`
transaction's worth (with 12 the reader waited on it some 4 s in 25 at a million orders)."""

DECODE_AHEAD_MIN = 20_000
"""Order-table records behind, when partitions are assigned, from which a second process decodes each batch while
the reader writes the one before (`webapp.outlines`), and batches are written together (`LOAD_BATCH_RECORDS`);
below it, starting that process costs more than it saves."""

_CORRUPT = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class TopicReadModel:
    """`webapp.model.ReadModel` from the topics: every order of every partner, in a store on local disk
    (`webapp.readstore`, in `web.store_dir`), kept current by a background thread (`start()`; `close()` stops it
    and closes the store). Thread-safe.

    The reader goes on from the offsets the store holds (every partition from offset 0 into an empty store), writing
    each batch of records with its offsets in one transaction (several batches, up to `LOAD_BATCH_RECORDS` records,
    while it catches up on a backlog of at least `decode_ahead_min`); a write that fails is tried again, a second
    later, before anything more is read. `ready` turns true once the reader has reached, on
    every partition, the end offset it had when it was assigned: until then pages would show an old picture, so
    the web app answers 503 ("catching up"). A store that cannot be trusted is emptied and every partition read from
    offset 0, with a log line saying why: a partition whose end offset is below the store's offset or whose topic id
    changed (the topic was recreated), another Kafka cluster, a corrupt file. A record that cannot be decoded is
    logged and skipped (the order keeps what it had); a broker that cannot be reached is retried by the client for
    ever, the model answering from what it has.

    Per record the reader reads the outline of the order's state (`webapp.outlines.index_fields`: connections,
    placed time, the fulfillments cancelled), in a second process up to `DECODE_AHEAD_BATCHES` batches ahead while
    it catches up on a backlog of at least `decode_ahead_min` records (`webapp.outlines.OutlineDecoder`), and keeps
    the bytes; a page's view is built from the bytes when asked, and the last `view_cache` views are kept.

    It connects with the configuration's `kafka:` settings (`streams.kit.kafka_clients`), as consumer group
    `<topic_prefix>-web-<uuid>` (assigned partitions, no commits), so ACLs on the topic prefix cover it.
    """

    def __init__(self, config: Config, *, poll_timeout_s: float = 0.2, view_cache: int = VIEW_CACHE,
                 decode_ahead_min: int = DECODE_AHEAD_MIN) -> None:
        names = TopicNames(config.kafka.topic_prefix)
        self._kafka = config.kafka
        self._group = f"{names.prefix}-web-{uuid.uuid4()}"
        self._topics = (ORDERS.changelog(names.app_id), BUYER_FULFILLMENTS.changelog(names.app_id), names.dead_letters)
        self._poll_timeout_s = poll_timeout_s
        self._store = open_store(config.web.store_dir, names.prefix, self._topics)
        self._lock = threading.Lock()  # the views, `_sent`, and reading the store for a view
        self._sent: dict[str, dict[str, datetime]] = {}  # order id -> fulfillment id -> version sent
        self._views: OrderedDict[str, OrderView] = OrderedDict()
        self._view_cache = view_cache
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._assigned: set[Place] = set()
        self._behind: dict[Place, int] = {}  # partition -> its end offset when assigned, until reached
        self._known_topics: set[str] = set()  # topics whose id was compared with the store's
        self._rebuild_why: str | None = None
        self._decode_ahead_min = decode_ahead_min
        self._decoder: OutlineDecoder | None = None  # while catching up on a backlog of at least decode_ahead_min
        # batches read and not yet handled, oldest first, each with its decoding (None: the reader decodes it)
        self._ahead: deque[tuple[list[Message], Future[list[Decoded]] | None]] = deque()
        self._indexes_deferred = False
        self._loading = False  # catching up on a backlog: batches written together (LOAD_BATCH_RECORDS)
        self._seen: _SeenIds | None = None  # while loading into a store that had read nothing
        self._unwritten = _Unwritten()
        self._write_failed = False  # the last write of `_unwritten` raised: nothing more is read until it goes in
        self.decoded_ahead = 0
        """Batches decoded by the second process (tests and the benchmark read it)."""

    @property
    def store(self) -> OrderStore:
        """The store the model reads and writes (its path, whether it is temporary, its size)."""
        return self._store

    # -- ReadModel ----------------------------------------------------------------------------------------------

    def orders_of(self, connection_id: str) -> list[OrderView]:
        """Every order whose seller or buyer connection is `connection_id`, newest placed first."""
        found = []
        for order_id in self._store.ids_of(connection_id):
            with self._lock:
                view = self._view(order_id)
            if view is not None:
                found.append(view)
        return sorted(found, key=lambda view: (view.placed_at, view.order_id), reverse=True)

    def order(self, order_id: str) -> OrderView | None:
        with self._lock:
            return self._view(order_id)

    def note_sent(self, order_id: str, fulfillment_id: str, at: datetime) -> None:
        """`at` must be the `source_version` of the event sent: the fulfillment is pending until the ledger's state
        holds that version (or cancelled it), or a dead letter names it. Kept in memory (this process only)."""
        with self._lock:
            self._sent.setdefault(order_id, {})[fulfillment_id] = at
            self._views.pop(order_id, None)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once the reader caught up with the end offsets it found at start."""
        return self._ready.is_set()

    def wait_ready(self, timeout_s: float) -> bool:
        return self._ready.wait(timeout_s)

    def start(self) -> Self:
        """Start the reader thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webapp-readmodel", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the reader thread, close its consumer and the store (the lock on it goes; a temporary store is
        removed). The model answers nothing afterwards."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("read model: the reader did not stop within %.0fs; its store stays open", timeout_s)
                return
        self._store.close()

    # -- the reader thread --------------------------------------------------------------------------------------

    def _run(self) -> None:
        consumer = new_consumer(self._kafka, {"group.id": self._group, "enable.auto.commit": False,
                                              "enable.partition.eof": True, "auto.offset.reset": "earliest",
                                              "queued.max.messages.kbytes": CONSUMER_QUEUE_KIB})
        try:
            next_look = 0.0
            while not self._stop.is_set():
                try:
                    if self._rebuild_why is not None:
                        self._rebuild(consumer, self._rebuild_why)
                        next_look = 0.0
                    if time.monotonic() >= next_look:
                        self._assign_new(consumer)
                        next_look = time.monotonic() + METADATA_INTERVAL_S
                    self._read(consumer)
                except sqlite3.DatabaseError as error:
                    if getattr(error, "sqlite_errorcode", None) in _CORRUPT:
                        self._rebuild_why = f"the store is corrupt ({error})"
                    else:
                        log.exception("read model: the store failed; going on in a second")
                        self._stop.wait(1.0)
                except Exception:  # a bug or a fatal client error must not stop the pages updating
                    log.exception("read model: reading failed; going on in a second")
                    self._stop.wait(1.0)
        finally:
            consumer.close()
            self._stop_decoder()

    def _read(self, consumer: Consumer) -> None:
        """Read one batch and handle it; with a decoder, hand it over to be decoded and handle the oldest batches
        handed over, keeping `DECODE_AHEAD_BATCHES` in the decoder's hands. A batch whose handling raised stays
        first in line and is handled again before anything newer is read; what the store failed to write is written
        before anything more is read."""
        if self._write_failed:
            self._write()
        if len(self._ahead) > DECODE_AHEAD_BATCHES or (self._decoder is not None and self._ready.is_set()):
            self._handle_ahead(0)  # a batch failed last time, or caught up: the backlog is gone
            self._stop_decoder()
        decoder = self._decoder
        messages = consumer.consume(BATCH, self._poll_timeout_s)
        if messages and decoder is not None:
            try:
                future = decoder.submit([message.value() if message.error() is None
                                         and message.topic() == self._topics[0] else None for message in messages])
            except Exception as error:  # noqa: BLE001 - the child died earlier (BrokenProcessPool)
                self._decoder_failed(error)
            else:
                self._ahead.append((messages, future))
                self._handle_ahead(DECODE_AHEAD_BATCHES)
                return
        if messages:
            self._ahead.append((messages, None))
        self._handle_ahead(0)
        if not messages:
            self._write()  # nothing more came: what is handled need not wait for more

    def _handle_ahead(self, keep: int) -> None:
        """Handle the batches in line, oldest first, once decoded (by the reader itself when it decodes them or the
        decoding process died), until `keep` are left. A batch whose handling raises stays first in line."""
        while len(self._ahead) > keep:
            messages, future = self._ahead[0]
            decoded: list[Decoded] | None = None
            try:
                decoded = None if future is None else future.result()
            except Exception as error:  # noqa: BLE001 - the child died (BrokenProcessPool) or could not start
                self._decoder_failed(error)
                self._ahead[0] = (messages, None)
            self._handle(messages, decoded)
            self._ahead.popleft()
            if decoded is not None:
                self.decoded_ahead += 1
            self._write_when_due()

    def _decoder_failed(self, error: Exception) -> None:
        """The decoding process is gone: say so once, and decode in the reader from now on."""
        if self._decoder is not None:
            log.warning("read model: the decoding process failed (%s: %s); decoding in the reader from now on",
                        type(error).__name__, error)
        self._stop_decoder()

    def _start_loading(self, backlog: int) -> None:
        """For a backlog of at least `decode_ahead_min` order records, the load until caught up: the decoding process,
        batches written together (`LOAD_BATCH_RECORDS`), the id filter when the store holds nothing (`_SeenIds`),
        and, when the backlog outnumbers the orders stored, the list indexes deferred (`OrderStore.defer_indexes`)."""
        if self._decoder is not None or backlog < self._decode_ahead_min or self._ready.is_set():
            return  # once ready, new partitions are read as they come: pages stay on the indexes
        defer = not self._indexes_deferred and backlog > self._store.count()
        log.info("read model: %d order record(s) behind; decoding them in a second process, writing up to %d at a "
                 "time%s", backlog, LOAD_BATCH_RECORDS, ", the list indexes built once caught up" if defer else "")
        if defer:
            self._store.defer_indexes()
            self._indexes_deferred = True
        self._loading = True
        if self._seen is None and not self._unwritten.records and not self._store.offsets():
            self._seen = _SeenIds()  # the store holds nothing, and nothing is on its way to it
        self._decoder = OutlineDecoder()

    def _stop_decoder(self) -> None:
        if self._decoder is not None:
            self._decoder.close()
            self._decoder = None

    def _assign_new(self, consumer: Consumer) -> None:
        """Assign every partition of our topics not assigned yet, from the store's offset (from its beginning when
        the store has none), noting its end offset; first empties the store when it cannot be trusted."""
        try:
            metadata = consumer.list_topics(timeout=5)
        except KafkaException as error:
            log.warning("read model: no topic metadata yet (%s); trying again", error)
            return
        marks: dict[Place, tuple[int, int]] = {}
        for topic in self._topics:
            described = metadata.topics.get(topic)
            if described is None or described.error is not None:
                continue
            for partition in described.partitions:
                if (topic, partition) not in self._assigned:
                    marks[(topic, partition)] = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                                               timeout=5)
        if marks:
            why = self._untrusted(metadata.cluster_id, marks)
            if why is not None:
                self._rebuild(consumer, why)
                self._assign_new(consumer)  # every partition again, from offset 0 of an empty store
                return
            stored = self._store.offsets()
            fresh = []
            for (topic, partition), (low, high) in marks.items():
                start = stored.get((topic, partition))
                if high > (low if start is None else max(low, start)):
                    self._behind[(topic, partition)] = high
                self._assigned.add((topic, partition))
                fresh.append(TopicPartition(topic, partition, OFFSET_BEGINNING if start is None else start))
            consumer.incremental_assign(fresh)
            self._start_loading(sum(max(0, high - max(low, stored.get((topic, partition)) or 0))
                                    for (topic, partition), (low, high) in marks.items()
                                    if topic == self._topics[0]))
        self._check_ready()

    def _untrusted(self, cluster_id: str | None, marks: Mapping[Place, tuple[int, int]]) -> str | None:
        """Why the store cannot go on from its offsets for these partitions, or None; notes the cluster and topic
        ids it is read from."""
        known = self._store.meta("cluster_id")
        if cluster_id and known and cluster_id != known:
            return f"the store was read from another Kafka cluster ({known}; this one is {cluster_id})"
        stored = self._store.offsets()
        for (topic, partition), (_low, high) in marks.items():
            offset = stored.get((topic, partition))
            if offset is not None and offset > high:
                return (f"{topic} partition {partition} ends at offset {high}, below the store's offset {offset}: "
                        "the topic was recreated")
        ids = self._topic_ids({topic for topic, _partition in marks} - self._known_topics)
        for topic, topic_id in ids.items():
            stored_id = self._store.meta(f"topic_id:{topic}")
            if stored_id is not None and stored_id != topic_id:
                return f"{topic} has another topic id than the store's ({stored_id}; now {topic_id}): it was recreated"
        values = {f"topic_id:{topic}": topic_id for topic, topic_id in ids.items()}
        if cluster_id:
            values["cluster_id"] = cluster_id
        self._store.set_meta(values)
        self._known_topics |= set(ids)
        return None

    def _topic_ids(self, topics: set[str]) -> dict[str, str]:
        """The topic id of each of `topics` the cluster describes (none when it cannot: the offsets still tell a
        recreated topic that has fewer records than the store read)."""
        if not topics:
            return {}
        try:
            admin = new_admin(self._kafka)  # referenced until the answers are in: a dropped client fails them
            futures = admin.describe_topics(TopicCollection(sorted(topics)), request_timeout=5)
            return {topic: str(future.result(timeout=10).topic_id) for topic, future in futures.items()}
        except Exception as error:  # noqa: BLE001 - an older broker or a refused describe: offsets only
            log.info("read model: cannot tell the topic ids of %s (%s); checking offsets only", sorted(topics), error)
            return {}

    def _rebuild(self, consumer: Consumer, why: str) -> None:
        """Empty the store and read every partition from offset 0 (`_assign_new` assigns them again)."""
        log.warning("read model: %s; emptying the store %s and reading every partition from offset 0", why,
                    self._store.path)
        self._rebuild_why = None
        self._ahead.clear()  # read before the store was emptied: read again from offset 0
        self._stop_decoder()  # started again, with the load's other settings, for the new store's backlog
        self._loading, self._seen = False, None
        self._unwritten, self._write_failed = _Unwritten(), False
        if self._assigned:
            consumer.incremental_unassign([TopicPartition(topic, partition) for topic, partition in self._assigned])
        self._assigned.clear()
        self._behind.clear()
        self._known_topics.clear()
        self._store.reset()
        self._indexes_deferred = False  # a new store has them
        with self._lock:
            self._views.clear()

    def _check_ready(self) -> None:
        if not self._behind and self._indexes_deferred:
            started = time.monotonic()
            self._store.build_indexes()
            self._indexes_deferred = False
            log.info("read model: list indexes built in %.1f s", time.monotonic() - started)
        if not self._behind and not self._ready.is_set():
            log.info("read model caught up: %d order(s)", self._store.count())
            self._loading, self._seen = False, None
            self._ready.set()

    def _handle(self, messages: list[Message], decoded: Sequence[Decoded] | None = None) -> None:
        """One batch (`decoded`: the outlines of its order-table values, decoded already) added to what is not
        written yet (`_Unwritten`): rows, deletions, letters and the partitions' next offsets. Handling a batch
        again after it raised gives the same result."""
        unwritten = self._unwritten
        batch, holds = unwritten.batch, unwritten.holds
        keys = {message.key() for message in messages
                if message.error() is None and message.topic() in self._topics[:2] and message.key()}
        ids = [key.decode("utf-8", "replace") for key in keys if key]
        if self._seen is not None:
            ids = self._seen.maybe_stored(ids)
        stored = self._store.rows(ids)  # one query a batch
        with self._lock:
            pending = {order_id: list(sent) for order_id, sent in self._sent.items()}
        for index, message in enumerate(messages):
            place = (str(message.topic()), message.partition() or 0)
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    unwritten.reached.add(place)
                else:
                    log.warning("read model: %s", error)
                continue
            offset = message.offset() or 0
            batch.offsets[place] = offset + 1
            if offset + 1 >= self._behind.get(place, 0):
                unwritten.reached.add(place)
            key = message.key()
            order_id = key.decode("utf-8", "replace") if key else None
            try:
                if place[0] == self._topics[0] and order_id:
                    self._on_state(batch, stored, order_id, message, pending.get(order_id), holds,
                                   None if decoded is None else decoded[index])
                elif place[0] == self._topics[1] and order_id:
                    self._on_writes(batch, stored, order_id, message)
                elif place[0] == self._topics[2]:
                    self._on_letter(batch, order_id, message.value())
            except (ValidationError, zlib.error, ValueError) as problem:
                log.error("read model: skipped the unreadable record at %s:%d:%d: %s", place[0], place[1], offset,
                          str(problem).splitlines()[0])
        unwritten.records += len(messages)

    def _write_when_due(self) -> None:
        """`_write`, unless a backlog is being loaded, fewer than `LOAD_BATCH_RECORDS` records are unwritten, and a
        partition is still behind beyond them."""
        unwritten = self._unwritten
        if self._loading and unwritten.records < LOAD_BATCH_RECORDS and not self._behind.keys() <= unwritten.reached:
            return
        self._write()

    def _write(self) -> None:
        """What was handled, with its offsets, in one transaction; then the views it changed are dropped, the pending
        fulfillments the states now hold are settled, and the partitions it caught up with are noted. A write that
        raises keeps all of it, and `_read` writes it again before it reads anything more."""
        unwritten = self._unwritten
        if not unwritten.records:
            return
        try:
            self._store.write(unwritten.batch)
        except BaseException:
            self._write_failed = True
            raise
        self._unwritten, self._write_failed = _Unwritten(), False
        batch = unwritten.batch
        with self._lock:
            for order_id in batch.touched() if self._views else ():
                self._views.pop(order_id, None)
            for order_id in batch.deleted - set(batch.rows):  # tombstoned: all we kept of it goes
                self._sent.pop(order_id, None)
            for order_id, records in unwritten.holds.items():
                sent = self._sent.get(order_id, {})
                for fulfillment_id, at in list(sent.items()):
                    if _settled(records.get(fulfillment_id), at):
                        del sent[fulfillment_id]
                if not sent:
                    self._sent.pop(order_id, None)
        for place in unwritten.reached:
            self._behind.pop(place, None)
        self._check_ready()

    @staticmethod
    def _row(batch: Batch, stored: Mapping[str, OrderRow], order_id: str) -> OrderRow:
        """The order's row as this batch leaves it so far (`stored`: the rows the store held at its start)."""
        row = batch.rows.get(order_id)
        if row is None:
            found = None if order_id in batch.deleted else stored.get(order_id)
            row = batch.rows[order_id] = found or OrderRow(order_id)
        return row

    def _on_state(self, batch: Batch, stored: Mapping[str, OrderRow], order_id: str, message: Message,
                  sent: list[str] | None, holds: dict[str, dict[str, FulfillmentRecord]], known: Decoded) -> None:
        value = message.value()
        if value is None:  # tombstone: the order is gone, and all we kept of it
            batch.delete(order_id)
            holds.pop(order_id, None)
            return
        if isinstance(known, str):
            raise ValueError(known)
        # what the index needs; the state is built only when a page asks
        fields = known if known is not None else index_fields(value)
        if sent:
            state = decode_state(value)
            holds[order_id] = {fulfillment_id: state.fulfillments[fulfillment_id] for fulfillment_id in sent
                               if fulfillment_id in state.fulfillments}
        cancelled = frozenset(fields.cancelled)
        row = self._row(batch, stored, order_id)
        if cancelled - row.cancelled:
            seen_at = _record_time(message)
            for fulfillment_id in cancelled - row.cancelled:
                row.cancelled_at[fulfillment_id] = seen_at
        row.state, row.cancelled = value, cancelled
        row.placed_at = fields.placed_at_us
        row.seller, row.buyer = (None, None) if fields.placed_at_us is None else (fields.seller, fields.buyer)

    def _on_writes(self, batch: Batch, stored: Mapping[str, OrderRow], order_id: str, message: Message) -> None:
        value = message.value()
        writes = BuyerWrites.model_validate_json(value) if value is not None else None
        written = {fulfillment_id: entry for fulfillment_id, entry in (writes.written.items() if writes else ())
                   if entry.fulfillment_ref and not entry.cancelled}
        row = self._row(batch, stored, order_id)
        if written:
            seen_at = _record_time(message)
            before = (BuyerWrites.model_validate_json(zlib.decompress(row.writes)).written if row.writes is not None
                      else {})
            for fulfillment_id, entry in written.items():
                if entry != before.get(fulfillment_id):
                    row.pushed_at[fulfillment_id] = seen_at
        row.writes = None if value is None else zlib.compress(value, 1)

    def _on_letter(self, batch: Batch, key: str | None, value: bytes | None) -> None:
        if value is None:
            return
        letter = DeadLetter.model_validate_json(value)
        order_id = letter.order_id or key
        if order_id:
            batch.letters[(order_id, letter.event_id)] = value

    def _view(self, order_id: str) -> OrderView | None:
        """The order's view, None while its order.placed is unknown. Built from the store's bytes when it is not
        among the `view_cache` most recently read. Call with the lock held."""
        view = self._views.get(order_id)
        if view is not None:
            self._views.move_to_end(order_id)
            return view
        row = self._store.view_row(order_id)
        if row is None:
            return None
        try:
            writes = None if row.writes is None else BuyerWrites.model_validate_json(zlib.decompress(row.writes))
            view = order_view(decode_state(row.state), writes, _letters(order_id, row.letters),
                              dict(self._sent.get(order_id, {})), observed=Observed(row.cancelled_at, row.pushed_at))
        except (ValidationError, zlib.error, ValueError) as problem:
            log.error("read model: cannot show order %s: %s", order_id, str(problem).splitlines()[0])
            return None
        self._views[order_id] = view
        if len(self._views) > self._view_cache:
            self._views.popitem(last=False)
        return view


class _SeenIds:
    """The order ids handled since a load into a store that had read nothing began, as a filter of one bit per id
    hash (2 MiB): the store holds rows of those ids only, so an id the filter never saw needs no lookup. Ids it saw,
    and a few per cent of those it did not (at a million ids), are looked up."""

    _BITS = 1 << 24

    def __init__(self) -> None:
        self._bits = bytearray(self._BITS // 8)

    def maybe_stored(self, order_ids: Iterable[str]) -> list[str]:
        """Those of `order_ids` the store may hold; all of them are noted as seen."""
        maybe = []
        for order_id in order_ids:
            at = hash(order_id) & (self._BITS - 1)
            bit = 1 << (at & 7)
            if self._bits[at >> 3] & bit:
                maybe.append(order_id)
            else:
                self._bits[at >> 3] |= bit
        return maybe


@dataclass
class _Unwritten:
    """What the reader handled and has not written yet: the rows, deletions, letters and offsets (`batch`), the
    partitions whose end offset at assignment it reached, the fulfillment records of the orders with fulfillments
    sent from this process (order id -> fulfillment id -> record), and how many records it took."""

    batch: Batch = field(default_factory=Batch)
    reached: set[Place] = field(default_factory=set)
    holds: dict[str, dict[str, FulfillmentRecord]] = field(default_factory=dict)
    records: int = 0


def _letters(order_id: str, values: Iterable[bytes]) -> list[DeadLetter]:
    letters = []
    for value in values:
        try:
            letters.append(DeadLetter.model_validate_json(value))
        except ValidationError as problem:
            log.error("read model: a dead letter of order %s is unreadable: %s", order_id,
                      str(problem).splitlines()[0])
    return letters


def _settled(record: FulfillmentRecord | None, sent_at: datetime) -> bool:
    """True when the state holds what the web app sent at `sent_at` (or cancelled the fulfillment)."""
    return record is not None and (record.cancelled or record.source_version >= sent_at)


def _record_time(message: Message) -> datetime:
    kind, millis = message.timestamp()
    if kind == TIMESTAMP_NOT_AVAILABLE:
        return datetime.now(UTC)
    return datetime.fromtimestamp(millis / 1000, UTC)
