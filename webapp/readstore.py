"""The web app's read model on local disk (docs/webapp.md, "Read model"): one SQLite file per topic prefix, kept by
`webapp.readmodel.TopicReadModel`, so a restarted web process reads only what the topics gained since it stopped.

What it holds, per order id: the order table's value as read (opaque bytes here; the read model decodes it to
index it and when a page asks), the order's seller and buyer connections and placed time (the index of the list
pages), the fulfillments seen cancelled and when, the buyer tracking sink's value (zlib-compressed) and when a
buyer-side write was first seen; the order's dead letters as read; and, in the same transaction as the data they
led to, the next offset to read of every partition. Nothing here decodes a value: the caller hands it the fields it
extracted.

Files: `<folder>/<topic prefix>.sqlite3` (WAL mode, with its `-wal` and `-shm` files) and `<prefix>.lock`, which
the process using the store holds (`fcntl.flock`) for as long as it is open. `open_store` falls back to a private
store in a temporary folder, removed at `close()`, when the folder cannot be written or another read model (another
web process, or another one in this process) holds the lock; it says so in a log line. A file that is not a store
of this format and these topics (a store of an older format, a corrupt file) is replaced by an empty one, also
logged. `reset()` empties the store (the caller then reads every partition from offset 0).

Thread-safety: one writer (the reader thread: `write`, `row`, `offsets`, `meta`, `set_meta`, `reset`) and any number
of readers (`view_row`, `ids_of`, `count`), each side on its own connection; readers see committed batches only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

STORE_FORMAT = "1"
"""Changes whenever the tables below change: a store of another format is replaced by an empty one."""

PAGE_SIZE = 16_384
"""Bytes per page of a new store (an existing one keeps its own): with SQLite's default of 4 KiB, loading a million
orders wrote 9.4 s against 6.0 s, as each transaction rewrites the order-id index pages its rows land on, and
larger pages are fewer."""

WRITER_CACHE_KIB = 65_536
"""SQLite's page cache of the writer's connection (the index pages an insert touches stay in it)."""

READER_CACHE_KIB = 16_384
"""SQLite's page cache of the pages' connection."""

_INDEXES = {
    "orders_by_seller": "orders (seller, placed_at) WHERE seller IS NOT NULL",
    "orders_by_buyer": "orders (buyer, placed_at) WHERE buyer IS NOT NULL",
}
"""The list pages' indexes, name -> what they index: built at every open, so a store whose indexes were deferred
(`defer_indexes`) and not built again (the process stopped during the load) has them once more."""

_CREATE_INDEXES = tuple(f"CREATE INDEX IF NOT EXISTS {name} ON {what}" for name, what in _INDEXES.items())

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL, next INTEGER NOT NULL, "
    "PRIMARY KEY (topic, partition)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, state BLOB, placed_at INTEGER, seller TEXT, "
    "buyer TEXT, cancelled TEXT, cancelled_at TEXT, writes BLOB, pushed_at TEXT)",
    *_CREATE_INDEXES,
    "CREATE TABLE IF NOT EXISTS letters (order_id TEXT NOT NULL, event_id TEXT NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY (order_id, event_id)) WITHOUT ROWID",
)
_TABLES = ("meta", "offsets", "orders", "letters")

Place = tuple[str, int]
"""A partition: (topic, partition)."""


@dataclass
class OrderRow:
    """What the store keeps of one order id (the writer's side). `placed_at` is in microseconds since the epoch;
    `seller`, `buyer` and `placed_at` are None until the state holds the order's `order.placed`."""

    order_id: str
    state: bytes | None = None
    placed_at: int | None = None
    seller: str | None = None
    buyer: str | None = None
    cancelled: frozenset[str] = frozenset()
    cancelled_at: dict[str, datetime] = field(default_factory=dict)
    writes: bytes | None = None  # the buyer sink's value, zlib-compressed
    pushed_at: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class ViewRow:
    """What a page needs of one placed order (the readers' side): the state as read, the buyer sink's value
    (zlib-compressed), the observed times and the dead letters as read."""

    state: bytes
    writes: bytes | None
    cancelled_at: dict[str, datetime]
    pushed_at: dict[str, datetime]
    letters: tuple[bytes, ...]


@dataclass
class Batch:
    """One transaction of the writer: order rows as they are now, order ids deleted (tombstones: the row and the
    letters; rows written after a delete in the same batch are kept), letters, and the next offset of each
    partition the batch read."""

    rows: dict[str, OrderRow] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    letters: dict[tuple[str, str], bytes] = field(default_factory=dict)
    offsets: dict[Place, int] = field(default_factory=dict)

    def delete(self, order_id: str) -> None:
        self.rows.pop(order_id, None)
        self.deleted.add(order_id)
        for key in [key for key in self.letters if key[0] == order_id]:
            del self.letters[key]

    def touched(self) -> set[str]:
        return set(self.rows) | self.deleted | {order_id for order_id, _event_id in self.letters}


class OrderStore:
    """The SQLite file at `path` (see the module docstring). Use `open_store`."""

    def __init__(self, path: Path, topics: Sequence[str], *, lock: IO[bytes] | None, temporary: Path | None) -> None:
        self.path = path
        self.temporary = temporary is not None
        self._topics = json.dumps(list(topics))
        self._lock_file = lock
        self._temporary = temporary
        self._read_lock = threading.Lock()
        self._closed = False
        self._writer, self._reader = self._connect()

    # -- opening ------------------------------------------------------------------------------------------------

    def _connect(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        """Both connections on a store of this format and topics; replaces a file that is not one."""
        try:
            return self._connect_once()
        except sqlite3.DatabaseError as error:
            log.warning("read model store %s cannot be read (%s): starting an empty one; every partition is read "
                        "from offset 0", self.path, error)
        self._remove_files()
        return self._connect_once()

    def _connect_once(self) -> tuple[sqlite3.Connection, sqlite3.Connection]:
        writer = _connection(self.path, WRITER_CACHE_KIB)
        try:
            writer.execute("PRAGMA journal_mode=WAL")
            found = dict(writer.execute("SELECT key, value FROM meta").fetchall()) if _has_meta(writer) else {}
            if found and (found.get("format") != STORE_FORMAT or found.get("topics") != self._topics):
                log.warning("read model store %s is of another format or other topics (format %s, topics %s): "
                            "starting it again from offset 0", self.path, found.get("format"), found.get("topics"))
                for table in _TABLES:
                    writer.execute(f"DROP TABLE IF EXISTS {table}")
                found = {}
            for statement in _SCHEMA:
                writer.execute(statement)
            if not found:
                writer.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                   [("format", STORE_FORMAT), ("topics", self._topics)])
            writer.execute("SELECT count(*) FROM offsets").fetchone()
            reader = _connection(self.path, READER_CACHE_KIB)
        except BaseException:
            writer.close()
            raise
        return writer, reader

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")

    # -- the writer's side ----------------------------------------------------------------------------------------

    def offsets(self) -> dict[Place, int]:
        """The next offset to read of every partition read so far."""
        return {(topic, partition): offset
                for topic, partition, offset in self._writer.execute("SELECT topic, partition, next FROM offsets")}

    def meta(self, key: str) -> str | None:
        found = self._writer.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if found is None else str(found[0])

    def set_meta(self, values: dict[str, str]) -> None:
        with _transaction(self._writer):
            self._writer.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    def row(self, order_id: str) -> OrderRow | None:
        """The stored row of `order_id` as last written, or None."""
        return self.rows([order_id]).get(order_id)

    def rows(self, order_ids: Sequence[str]) -> dict[str, OrderRow]:
        """The stored rows of those of `order_ids` the store holds."""
        found = {}
        for order_id, state, placed_at, seller, buyer, cancelled, cancelled_at, writes, pushed_at in \
                self._writer.execute(
                    "SELECT order_id, state, placed_at, seller, buyer, cancelled, cancelled_at, writes, pushed_at "
                    "FROM orders WHERE order_id IN (SELECT value FROM json_each(?))", (json.dumps(list(order_ids)),)):
            found[order_id] = OrderRow(order_id, state, placed_at, seller, buyer,
                                       frozenset(json.loads(cancelled)) if cancelled else frozenset(),
                                       _times(cancelled_at), writes, _times(pushed_at))
        return found

    def write(self, batch: Batch) -> None:
        """Everything in `batch`, with its offsets, in one transaction."""
        with _transaction(self._writer) as db:
            if batch.deleted:
                db.executemany("DELETE FROM orders WHERE order_id = ?", [(key,) for key in batch.deleted])
                db.executemany("DELETE FROM letters WHERE order_id = ?", [(key,) for key in batch.deleted])
            db.executemany(
                "INSERT OR REPLACE INTO orders (order_id, state, placed_at, seller, buyer, cancelled, cancelled_at, "
                "writes, pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(row.order_id, row.state, row.placed_at, row.seller, row.buyer,
                  json.dumps(sorted(row.cancelled)) if row.cancelled else None, _text(row.cancelled_at),
                  row.writes, _text(row.pushed_at)) for row in sorted(batch.rows.values(), key=_order_id)])
            db.executemany("INSERT OR REPLACE INTO letters VALUES (?, ?, ?)",
                           [(order_id, event_id, value) for (order_id, event_id), value in batch.letters.items()])
            db.executemany("INSERT OR REPLACE INTO offsets VALUES (?, ?, ?)",
                           [(topic, partition, offset) for (topic, partition), offset in batch.offsets.items()])

    def defer_indexes(self) -> None:
        """Drop the list pages' indexes while a large backlog is loaded (each insert then writes the table and its
        key only); `build_indexes` builds them again in one pass, sorted, which costs far less than keeping them
        current row by row. Pages stay correct meanwhile, only slower (a scan instead of an index)."""
        with _transaction(self._writer) as db:
            for name in _INDEXES:
                db.execute(f"DROP INDEX IF EXISTS {name}")

    def build_indexes(self) -> None:
        """Build the list pages' indexes when they are missing (see `defer_indexes`)."""
        with _transaction(self._writer) as db:
            for statement in _CREATE_INDEXES:
                db.execute(statement)

    def reset(self) -> None:
        """Empty the store (a new file; what it held is gone, offsets too). Readers see an empty store meanwhile."""
        with self._read_lock:
            self._writer.close()
            self._reader.close()
            self._remove_files()
            self._writer, self._reader = self._connect()

    # -- the readers' side ----------------------------------------------------------------------------------------

    def view_row(self, order_id: str) -> ViewRow | None:
        """What a page needs of `order_id`, None unless its state holds its `order.placed` (or after `close`)."""
        with self._read_lock:
            if self._closed:
                return None
            with _transaction(self._reader, "BEGIN") as db:
                found = db.execute("SELECT state, writes, cancelled_at, pushed_at FROM orders "
                                   "WHERE order_id = ? AND seller IS NOT NULL", (order_id,)).fetchone()
                if found is None:
                    return None
                letters = tuple(value for (value,) in db.execute("SELECT value FROM letters WHERE order_id = ?",
                                                                 (order_id,)))
        state, writes, cancelled_at, pushed_at = found
        return ViewRow(state, writes, _times(cancelled_at), _times(pushed_at), letters)

    def ids_of(self, connection_id: str) -> list[str]:
        """The placed orders whose seller or buyer connection is `connection_id`, newest placed first."""
        with self._read_lock:
            if self._closed:
                return []
            found = self._reader.execute(
                "SELECT order_id, placed_at FROM orders WHERE seller = ? UNION "
                "SELECT order_id, placed_at FROM orders WHERE buyer = ? ORDER BY placed_at DESC, order_id DESC",
                (connection_id, connection_id)).fetchall()
        return [order_id for order_id, _placed_at in found]

    def count(self) -> int:
        """How many placed orders the store holds."""
        with self._read_lock:
            if self._closed:
                return 0
            return int(self._reader.execute("SELECT count(*) FROM orders WHERE seller IS NOT NULL").fetchone()[0])

    def size_bytes(self) -> int:
        """The store's files on disk (the database, its WAL and shared-memory files)."""
        return sum(Path(f"{self.path}{suffix}").stat().st_size for suffix in ("", "-wal", "-shm")
                   if Path(f"{self.path}{suffix}").exists())

    # -- closing --------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close both connections and let the lock go; a temporary store's folder is removed. Readers then find
        nothing. Call once the writer has stopped."""
        with self._read_lock:
            if self._closed:
                return
            self._closed = True
            self._reader.close()
            self._writer.close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)


def open_store(folder: str | Path, prefix: str, topics: Sequence[str]) -> OrderStore:
    """The store of topic prefix `prefix` in `folder` (created if needed), locked for this process; a temporary
    store when the folder cannot be used or the store is in use (see the module docstring)."""
    path = Path(folder) / f"{prefix}.sqlite3"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_suffix(".lock"), "ab")  # noqa: SIM115 - held open for as long as the store is
    except OSError as error:
        return _temporary_store(prefix, topics, f"cannot use the folder {folder} ({error})")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return _temporary_store(prefix, topics, f"{path} is in use by another web process")
    try:
        store = OrderStore(path, topics, lock=lock, temporary=None)
    except (OSError, sqlite3.Error) as error:
        lock.close()
        return _temporary_store(prefix, topics, f"cannot open {path} ({error})")
    log.info("read model store: %s", path)
    return store


def _temporary_store(prefix: str, topics: Sequence[str], why: str) -> OrderStore:
    folder = Path(tempfile.mkdtemp(prefix="fulfillsync-web-"))
    log.warning("read model store: %s; using a temporary store in %s instead (read from offset 0, removed when the "
                "web process stops)", why, folder)
    return OrderStore(folder / f"{prefix}.sqlite3", topics, lock=None, temporary=folder)


def _connection(path: Path, cache_kib: int) -> sqlite3.Connection:
    # autocommit (isolation_level None): transactions are explicit; one thread at a time uses each connection
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # before the cache's size: set after it, RSS was 590 MiB, not 395
    db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses at most the last batches, never consistency
    db.execute(f"PRAGMA cache_size=-{cache_kib}")
    page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
    db.execute(f"PRAGMA wal_autocheckpoint={32 * 2**20 // page_size}")  # a checkpoint (and its fsync) per 32 MiB
    db.execute("PRAGMA journal_size_limit=67108864")
    return db


def _order_id(row: OrderRow) -> str:
    # rows written in id order walk the order-id index from one end to the other instead of jumping about it
    return row.order_id


def _has_meta(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is not None


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
    db.execute(begin)
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _text(times: dict[str, datetime]) -> str | None:
    return json.dumps({key: at.isoformat() for key, at in times.items()}) if times else None


def _times(text: str | None) -> dict[str, datetime]:
    return {key: datetime.fromisoformat(at) for key, at in json.loads(text).items()} if text else {}
