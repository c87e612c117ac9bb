"""Typed tables: every Faust table of the worker is declared once as a `TableSpec` (its name, what a value is, how it
is encoded, what an unreadable value does) in its domain's `tables.py`, and used through a `TypedTable`.

Faust sees bytes in and bytes out (its raw codec): keys are UTF-8 strings (an order id, a connection id, or a
composite key a domain builds), values are pydantic models as JSON (or in the stored form of the spec's `codec`),
optionally zlib-compressed (a compressed table still reads values stored uncompressed, which start with `{`).
The changelog topic of a table is derived from its name (`TableSpec.changelog`, Faust's
`{app id}-{table}-changelog`), never spelled anywhere else.

An unreadable value (bytes that are not the declared model) is handled as its spec says, chosen once per table:
- `absent`: logged as an error naming the table and key, and read as absent (the agent then asks the platform or
  republishes with the same ids, which the next stage recognises);
- `raise`: `UnreadableEntry` (the agent decides, e.g. the ledger dead-letters the input).
"""

from __future__ import annotations

import logging
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Unreadable = Literal["absent", "raise"]


class UnreadableEntry(ValueError):
    """A table value that is not the declared model (the message names the table and key)."""


def uncompressed(raw: bytes, compressed: bool) -> bytes:
    """The stored bytes `raw` of a table whose values are `compressed` (or not), uncompressed: a compressed table
    still reads values stored uncompressed, which start with `{`. Raises `zlib.error` for bytes that are neither."""
    return zlib.decompress(raw) if compressed and not raw.startswith(b"{") else raw


@dataclass(frozen=True)
class Codec(Generic[M]):
    """A stored form of a table's values other than the model's own JSON: `decode` raises `ValueError` saying
    what is wrong with a value that is not one."""

    encode: Callable[[M], bytes]
    decode: Callable[[bytes], M]


@dataclass(frozen=True)
class TableSpec(Generic[M]):
    """A table: `name` (Faust's table name, which names its changelog), the model of its values, whether values
    are zlib-compressed, what an unreadable value does, and the stored form when it is not the model's JSON."""

    name: str
    model: type[M]
    unreadable: Unreadable
    compressed: bool = False
    help: str = ""
    codec: Codec[M] | None = None
    cached: int = 0
    """Decoded values the worker keeps (least recently used out), shared by every reader of the table in the
    worker, cleared whenever its partitions change (`streams.kit.context.WiringContext.table`); 0: none."""

    def changelog(self, app_id: str) -> str:
        """The compacted changelog topic Faust keeps for this table in application `app_id`."""
        return f"{app_id}-{self.name}-changelog"

    def encode(self, value: M) -> bytes:
        raw = self.codec.encode(value) if self.codec is not None else value.model_dump_json().encode()
        return zlib.compress(raw, 1) if self.compressed else raw

    def decode(self, raw: bytes) -> M:
        """The value in `raw`. Raises `UnreadableEntry` when it is not one (whatever `unreadable` says)."""
        try:
            text = uncompressed(raw, self.compressed)
            if self.codec is not None:
                return self.codec.decode(text)
            return self.model.model_validate_json(text)
        except (ValueError, zlib.error) as error:  # ValidationError is a ValueError
            raise UnreadableEntry(f"{self.name}: not a {self.model.__name__}: {str(error)[:200]}") from None

    def entries(self, raw: MutableMapping[bytes, bytes], *, suffix: str = "") -> TypedTable[M]:
        """Typed access to the Faust table `raw` of this spec (see `TypedTable`), with the spec's cache."""
        return TypedTable(self, raw, suffix=suffix, cache_size=self.cached)


class TypedTable(Generic[M]):
    """Typed access to one table: keys are strings, values `spec.model`. With a `suffix`, the keys `key + suffix`
    (a second kind of entry kept beside the first in the same partition, declared by its own spec of the same
    name).

    With `cache_size`, the last values read or written are kept decoded: `get` returns them without reading the
    table. They are shared, so a value read must never be changed in place (store a changed copy with `put`);
    the cache holds what the table holds as long as every write goes through this object and `forget` is called
    whenever the worker's partitions change (`streams.kit.context.WiringContext.table` does both)."""

    def __init__(self, spec: TableSpec[M], raw: MutableMapping[bytes, bytes], *, suffix: str = "",
                 cache_size: int = 0) -> None:
        self.spec = spec
        self._raw = raw
        self._suffix = suffix
        self._cache_size = cache_size
        self._cache: OrderedDict[str, M] = OrderedDict()

    def _key(self, key: str) -> bytes:
        return (key + self._suffix).encode()

    def contains(self, key: str) -> bool:
        """Whether an entry exists under `key`, readable or not."""
        return self._raw.get(self._key(key)) is not None

    def get(self, key: str) -> M | None:
        """The entry under `key`; None when there is none (or it is unreadable and the spec says `absent`).
        Raises `UnreadableEntry` for an unreadable one when the spec says `raise`."""
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        raw = self._raw.get(self._key(key))
        value = None if raw is None else self._decoded(key, raw)
        if value is not None:
            self._remember(key, value)
        return value

    def put(self, key: str, value: M) -> None:
        self._raw[self._key(key)] = self.spec.encode(value)
        self._remember(key, value)

    def delete(self, key: str) -> None:
        self._cache.pop(key, None)
        self._raw.pop(self._key(key), None)

    def forget(self) -> None:
        """Drop every cached value (the next `get` of each reads the table)."""
        self._cache.clear()

    def _remember(self, key: str, value: M) -> None:
        if self._cache_size:
            self._cache[key] = value
            self._cache.move_to_end(key)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def items(self) -> Iterator[tuple[str, M]]:
        """Every readable entry of this worker's partitions with this table's suffix (unreadable ones are logged
        and skipped, whatever the spec says, so one bad entry does not stop a scan). For tables that keep one
        kind of entry without a suffix: entries of a suffixed kind would be read as unreadable ones."""
        for key, raw in list(self._raw.items()):
            text = key.decode("utf-8", "replace")
            if self._suffix:
                if not text.endswith(self._suffix):
                    continue
                text = text[: -len(self._suffix)]
            try:
                yield text, self.spec.decode(raw)
            except UnreadableEntry as error:
                log.error("table %s: the entry of %s is unreadable and skipped: %s", self.spec.name, text, error)

    def _decoded(self, key: str, raw: bytes) -> M | None:
        try:
            return self.spec.decode(raw)
        except UnreadableEntry as error:
            if self.spec.unreadable == "raise":
                raise UnreadableEntry(f"{error} (key {key!r})") from None
            log.error("table %s: the entry of %s is unreadable and read as absent: %s", self.spec.name, key, error)
            return None
