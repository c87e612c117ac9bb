"""The `seller-fulfillments` table: order id -> `SellerWatch`: the seller connection and order ref, what was last
published per seller fulfillment ref (`ledger.fulfillment_sync.LastPublished`), and when the order was seen shipped
(its watch window).

Values are JSON. An entry that cannot be read is read as absent (logged): the next read republishes the seller's
fulfillments with the same event ids, which the ledger recognises as duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.fulfillment_sync import LastPublished
from streams.kit.tables import TableSpec


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
    """One stored order as the seller-fulfillment checker keeps it."""

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


SELLER_FULFILLMENTS = TableSpec("seller-fulfillments", SellerWatch, unreadable="absent",
                                help="order id -> what was published per seller fulfillment, and its watch window")
