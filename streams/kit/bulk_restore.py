"""Rebuilding a worker's table partitions from their changelogs in bulk, ahead of Faust's own recovery.

Faust's recovery handles every changelog record on its own through the event loop (docs/capacity.md, "Where the
rebuild time goes"), so a worker given partitions of a million orders on an empty volume needed minutes before it
was ready. `BulkRecovery` is Faust's recovery with one step added: once Faust knows, for each active partition,
the offset its local store reached and the changelog's last offset, every partition at least `BULK_MIN_RECORDS`
behind is read with a confluent-kafka consumer, a batch at a time in a thread, and each batch is written to the
partition's store with Faust's own `apply_changelog_batch` (one RocksDB write batch per partition, then the offset
reached, as Faust's recovery writes them). Faust's recovery then starts from that offset and reads only the rest.

Failure behaviour:
- only partitions far enough behind, of tables kept in RocksDB, are read in bulk; the rest is Faust's recovery;
- a batch is written only in the event loop, only while no rebalance has begun since the step started (Faust
  revokes partitions before it cancels the step), and only up to the changelog's last offset as Faust measured it:
  a revoked partition's store is never written, and Faust's consistency check (the store never ahead of the
  changelog) holds;
- an offset is noted only once its record is written, so Faust's recovery never starts past a record not stored;
- the step stops after `budget_s` (Faust bounds the step it runs in by `broker_request_timeout`, past which its
  recovery stops altogether), keeping what it wrote;
- a read error (the broker away, an ACL missing) is logged with what to check, and the partitions are left to
  Faust's recovery where they are: what was written stays, with its offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP

from schemas.config import KafkaSettings
from streams.kit.kafka_clients import describe_kafka_error, new_consumer

log = logging.getLogger(__name__)

BULK_MIN_RECORDS = 5_000
"""A partition at least this far behind its changelog is read in bulk; Faust's recovery reads a smaller gap in
well under a second."""

BATCH = 5_000
"""Records read and written at a time (one RocksDB write batch per partition of each)."""

_POLL_TIMEOUT_S = 1.0
_CONSUMER_QUEUE_KIB = 64 * 1024


@dataclass(frozen=True, slots=True)
class ChangelogRecord:
    """One changelog record in the shape Faust's `apply_changelog_batch` reads (`event.message.tp` and so on)."""

    tp: TP
    offset: int
    key: bytes
    value: bytes | None

    @property
    def partition(self) -> int:
        return self.tp.partition

    @property
    def message(self) -> ChangelogRecord:
        return self


@dataclass(frozen=True)
class Gap:
    """A partition of `table` whose store reached `stored` (-1: nothing) while its changelog ends at `last`."""

    table: Any
    tp: TP
    stored: int
    last: int

    @property
    def behind(self) -> int:
        return self.last - self.stored


class BulkRestore:
    """Reads changelog partitions in bulk with the configuration's Kafka settings (security included) and writes
    them to the tables' stores; `group` names the consumer (it never joins a group nor commits)."""

    def __init__(self, kafka: KafkaSettings, *, group: str, min_records: int = BULK_MIN_RECORDS) -> None:
        self._kafka = kafka
        self._group = group
        self.min_records = min_records

    def gaps(self, tables: Mapping[TP, Any], stored: Mapping[TP, int | None], last: Mapping[TP, int | None]
             ) -> list[Gap]:
        """The partitions worth reading in bulk: a RocksDB table's partition at least `min_records` behind."""
        found = []
        for tp, table in tables.items():
            end = last.get(tp)
            if end is None or not isinstance(getattr(table, "data", None), RocksDBStore):
                continue
            reached = stored.get(tp)
            gap = Gap(table, tp, -1 if reached is None else reached, end)
            if gap.behind >= self.min_records:
                found.append(gap)
        return found

    async def restore(self, gaps: Sequence[Gap], *, budget_s: float,
                      current: Callable[[], bool] = lambda: True) -> dict[TP, int]:
        """Write each gap's records to its table, at most `budget_s` seconds and only while `current()` (the
        partitions are still this worker's: no rebalance began); returns the offset each partition's store reached
        (only partitions that gained records). Never raises for a read error (see the module docstring);
        cancellation stops it between two batches, and the consumer is closed once its running read returns."""
        pending = {gap.tp: gap for gap in gaps}
        if not pending:
            return {}
        started, written = time.monotonic(), 0
        total = sum(gap.behind for gap in pending.values())
        log.info("restoring up to %d changelog record(s) of %d partition(s) in bulk: %s", total, len(pending),
                 ", ".join(f"{tp.topic}[{tp.partition}] {gap.behind}" for tp, gap in sorted(pending.items())))
        consumer = new_consumer(self._kafka, {
            "group.id": self._group, "enable.auto.commit": False, "enable.partition.eof": True,
            "auto.offset.reset": "earliest", "queued.max.messages.kbytes": _CONSUMER_QUEUE_KIB})
        # One thread of its own: the consumer is only ever used by it, and closed after its last call returned.
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-restore")
        reading: Future[list[Message]] | None = None
        reached: dict[TP, int] = {}
        try:
            consumer.assign([TopicPartition(tp.topic, tp.partition, gap.stored + 1) for tp, gap in pending.items()])
            while pending and time.monotonic() - started < budget_s:
                reading = reader.submit(consumer.consume, BATCH, _POLL_TIMEOUT_S)
                messages = await asyncio.wrap_future(reading)
                if not current():
                    log.info("bulk restore stopped: a rebalance began; Faust's recovery reads the rest")
                    break
                count, failed = self._write(messages, pending, reached)
                written += count
                if failed is not None:
                    raise KafkaException(failed)
        except KafkaException as error:
            log.warning("bulk restore stopped: %s; Faust's recovery reads the rest",
                        describe_kafka_error(self._kafka, error, what="read the changelogs"))
        finally:
            if reading is None or reading.done():
                consumer.close()
            else:  # cancelled while the thread still reads: close it there, once the read returns
                reading.add_done_callback(lambda _: consumer.close())
            reader.shutdown(wait=False)
        seconds = time.monotonic() - started
        left = f"; {len(pending)} partition(s) left to Faust's recovery" if pending else ""
        log.info("restored %d changelog record(s) in bulk in %.1f s (%.0f/s)%s", written, seconds,
                 written / seconds if seconds > 0 else 0.0, left)
        return reached

    def _write(self, messages: list[Message], pending: dict[TP, Gap], reached: dict[TP, int]
               ) -> tuple[int, KafkaError | None]:
        """Apply one batch: each record up to its partition's last offset, grouped by table, and only then note
        the offsets reached; a partition is done at its last offset or at its end. Returns the records written and
        the read error met among the records, if any (the records before it are applied, their offsets noted)."""
        batches: dict[int, list[ChangelogRecord]] = defaultdict(list)
        tables: dict[int, Any] = {}
        failed: KafkaError | None = None
        for message in messages:
            tp = TP(message.topic() or "", message.partition() or 0)
            gap = pending.get(tp)
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.pop(tp, None)
                    continue
                failed = error
                break
            if gap is None:
                continue
            offset = message.offset() or 0
            if offset <= gap.last:
                batches[id(gap.table)].append(ChangelogRecord(tp, offset, message.key() or b"", message.value()))
                tables[id(gap.table)] = gap.table
            if offset >= gap.last:
                pending.pop(tp)
        for table_id, records in batches.items():
            tables[table_id].apply_changelog_batch(records)  # the store notes the offsets itself
            for record in records:
                reached[record.tp] = record.offset
        return sum(len(records) for records in batches.values()), failed


class BulkRecovery(Recovery):
    """Faust's recovery, with active partitions far behind their changelogs read in bulk first (module docstring).
    Reads `bulk_restore` from the app (a `BulkRestore`); without one it is Faust's recovery unchanged."""

    async def _build_offsets(self, consumer: Any, tps: Any, destination: Any, title: str) -> None:
        bulk: BulkRestore | None = getattr(self.app, "bulk_restore", None)
        if bulk is not None and title == "active" and tps:
            gaps = bulk.gaps({tp: self.tp_to_table[tp] for tp in tps if tp in self.tp_to_table},
                             {tp: destination.get(tp) for tp in tps},
                             {tp: self.active_highwaters.get(tp) for tp in tps})
            rebalances = self.app.rebalancing_count  # grows at a revocation, before Faust cancels this step

            def current() -> bool:
                return self.app.rebalancing_count == rebalances and not self.signal_recovery_start.is_set()

            # Faust bounds this step by broker_request_timeout and stops its recovery past it: keep well inside.
            reached = await bulk.restore(gaps, budget_s=0.6 * float(self.app.conf.broker_request_timeout),
                                         current=current)
            for tp, offset in reached.items():  # a Counter: update() would add
                destination[tp] = offset
        await super()._build_offsets(consumer, tps, destination, title)


class BulkTableManager(TableManager):
    """Faust's table manager with `BulkRecovery` as its recovery (the app's `TableManager` setting)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = BulkRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
