"""Typed tables: every Faust table of the worker is declared once as a `TableSpec` (its name, what a value is, how it
is encoded, what an unreadable value does) in its domain's `tables.py`, and used through a `TypedTable`.

Faust sees bytes in and bytes out (its raw codec): keys are UTF-8 strings (an order id, a connection id, or a
composite key a domain builds), values are pydantic models as JSON, optionally zlib-compressed. The changelog topic
of a table is derived from its name (`TableSpec.changelog`, Faust's `{app id}-{table}-changelog`), never spelled
anywhere else.

An unreadable value (bytes that are not the declared model) is handled as its spec says, chosen once per table:
- `absent`: logged as an error naming the table and key, and read as absent (the agent then asks the platform or
  republishes with the same ids, which the next stage recognises);
- `raise`: `UnreadableEntry` (the agent decides, e.g. the ledger dead-letters the input).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Unreadable = Literal["absent", "raise"]


class UnreadableEntry(ValueError):
    """A table value that is not the declared model (the message names the table and key)."""


@dataclass(frozen=True)
class TableSpec(Generic[M]):
    """A table: `name` (Faust's table name, which names its changelog), the model of its values, whether values
    are zlib-compressed JSON, and what an unreadable value does."""

    name: str
    model: type[M]
    unreadable: Unreadable
    compressed: bool = False
    help: str = ""

    def changelog(self, app_id: str) -> str:
        """The compacted changelog topic Faust keeps for this table in application `app_id`."""
        return f"{app_id}-{self.name}-changelog"

    def encode(self, value: M) -> bytes:
        raw = value.model_dump_json().encode()
        return zlib.compress(raw, 1) if self.compressed else raw

    def decode(self, raw: bytes) -> M:
        """The value in `raw`. Raises `UnreadableEntry` when it is not one (whatever `unreadable` says)."""
        try:
            return self.model.model_validate_json(zlib.decompress(raw) if self.compressed else raw)
        except (ValidationError, zlib.error) as error:
            raise UnreadableEntry(f"{self.name}: not a {self.model.__name__}: {str(error)[:200]}") from None

    def entries(self, raw: MutableMapping[bytes, bytes], *, suffix: str = "") -> TypedTable[M]:
        """Typed access to the Faust table `raw` of this spec (see `TypedTable`)."""
        return TypedTable(self, raw, suffix=suffix)


class TypedTable(Generic[M]):
    """Typed access to one table: keys are strings, values `spec.model`. With a `suffix`, the keys `key + suffix`
    (a second kind of entry kept beside the first in the same partition, declared by its own spec of the same
    name)."""

    def __init__(self, spec: TableSpec[M], raw: MutableMapping[bytes, bytes], *, suffix: str = "") -> None:
        self.spec = spec
        self._raw = raw
        self._suffix = suffix

    def _key(self, key: str) -> bytes:
        return (key + self._suffix).encode()

    def contains(self, key: str) -> bool:
        """Whether an entry exists under `key`, readable or not."""
        return self._raw.get(self._key(key)) is not None

    def get(self, key: str) -> M | None:
        """The entry under `key`; None when there is none (or it is unreadable and the spec says `absent`).
        Raises `UnreadableEntry` for an unreadable one when the spec says `raise`."""
        raw = self._raw.get(self._key(key))
        return None if raw is None else self._decoded(key, raw)

    def put(self, key: str, value: M) -> None:
        self._raw[self._key(key)] = self.spec.encode(value)

    def delete(self, key: str) -> None:
        self._raw.pop(self._key(key), None)

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
