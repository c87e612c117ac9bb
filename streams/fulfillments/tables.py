"""The check records of `<prefix>.seller-checks` and the `seller-fulfillments` table.

- A check record asks for one stored order's fulfilments to be read from its seller's platform now: because the
  seller's order changed (`changed`, from the seller connection's poll), because the order is watched on a platform
  whose tracking edits do not move the order's modified time (`sweep`), or because the last read failed (`retry`,
  asked by the sweep one interval later). Keyed by order id, in the order's partition.
- The table: order id -> `SellerWatch`: the seller connection and order ref, what was last published per seller
  fulfilment ref (`ledger.fulfillment_sync.LastPublished`), and when the order was seen shipped (its watch window).

Values are JSON. An entry that cannot be read is treated as empty and logged: the next read republishes the seller's
fulfilments with the same event ids, which the ledger recognises as duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ledger.fulfillment_sync import LastPublished
from streams.records import decode_internal

log = logging.getLogger("fulfillsync.fulfillments")

CheckReason = Literal["changed", "sweep", "retry"]


class CheckRecord(BaseModel):
    """Read the fulfilments of stored order `order_id` (seller order `seller_order_ref` on `connection_id`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(min_length=1)
    connection_id: str = Field(min_length=1)
    seller_order_ref: str = Field(min_length=1)
    reason: CheckReason
    requested_at: AwareDatetime


def decode_check(value: bytes | None) -> CheckRecord | str:
    """The seller check record in a record value, or a short reason why it is none (never raises)."""
    return decode_internal(CheckRecord, value, "a seller check record")


class PublishedEntry(BaseModel):
    """`LastPublished` as stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_version: AwareDatetime
    platform_version: AwareDatetime
    digest: str
    cancelled: bool = False

    def to_last(self) -> LastPublished:
        return LastPublished(self.source_version, self.platform_version, self.digest, self.cancelled)

    @classmethod
    def of(cls, last: LastPublished) -> PublishedEntry:
        return cls(source_version=last.source_version, platform_version=last.platform_version, digest=last.digest,
                   cancelled=last.cancelled)


class SellerWatch(BaseModel):
    """One stored order as the seller-fulfilment checker keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_id: str
    seller_order_ref: str
    published: dict[str, PublishedEntry] = Field(default_factory=dict)
    shipped_at: AwareDatetime | None = Field(default=None, description="When the ledger shipped it; None: open.")
    last_read_at: AwareDatetime | None = None
    read_failed_at: AwareDatetime | None = Field(
        default=None, description="Set when the last read failed; the sweep asks for it again next interval.")

    def last_published(self) -> dict[str, LastPublished]:
        return {ref: entry.to_last() for ref, entry in self.published.items()}

    def with_published(self, published: Mapping[str, LastPublished], *, read_at: datetime) -> SellerWatch:
        """This entry after a successful read at `read_at` that published `published` (refs that changed)."""
        merged = dict(self.published)
        merged.update({ref: PublishedEntry.of(last) for ref, last in published.items()})
        return self.model_copy(update={"published": merged, "last_read_at": read_at, "read_failed_at": None})

    def watched(self, now: datetime, shipped_watch: timedelta) -> bool:
        """Open, or shipped no longer than `shipped_watch` ago."""
        return self.shipped_at is None or now - self.shipped_at <= shipped_watch


class SellerWatchTable:
    """Typed access to the seller-fulfilment table."""

    def __init__(self, table: MutableMapping[bytes, bytes]) -> None:
        self._table = table

    def get(self, order_id: str) -> SellerWatch | None:
        raw = self._table.get(order_id.encode())
        return None if raw is None else _decode(order_id, raw)

    def put(self, order_id: str, entry: SellerWatch) -> None:
        self._table[order_id.encode()] = entry.model_dump_json().encode()

    def delete(self, order_id: str) -> None:
        self._table.pop(order_id.encode(), None)

    def items(self) -> Iterator[tuple[str, SellerWatch]]:
        """Every readable entry of this worker's partitions (for the sweep)."""
        for key, raw in list(self._table.items()):
            order_id = key.decode("utf-8", "replace")
            entry = _decode(order_id, raw)
            if entry is not None:
                yield order_id, entry


def _decode(order_id: str, raw: bytes) -> SellerWatch | None:
    try:
        return SellerWatch.model_validate_json(raw)
    except ValidationError:
        log.error("seller-fulfilment entry of %s is unreadable; its fulfilments are republished", order_id)
        return None
