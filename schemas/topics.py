"""Topic names: part of the public contract (DESIGN.md §3). Every topic is keyed by order id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicNames:
    """The names of fulfillsync's topics under one prefix."""

    prefix: str = "fulfillsync"

    @property
    def order_events(self) -> str:
        return f"{self.prefix}.order-events"

    @property
    def fulfillment_events(self) -> str:
        return f"{self.prefix}.fulfillment-events"

    @property
    def shipped_orders(self) -> str:
        return f"{self.prefix}.shipped-orders"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.dead-letters"

    @property
    def app_id(self) -> str:
        """The Faust application id (consumer group); it also prefixes Faust's internal topics."""
        return f"{self.prefix}-ledger"

    @property
    def order_table_changelog(self) -> str:
        """The compacted changelog that backs the order table (named by Faust: `{app_id}-{table}-changelog`)."""
        return f"{self.app_id}-orders-changelog"

    @property
    def poll_ticks(self) -> str:
        """Internal: one tick per connection and poll interval, keyed by connection id (not by order id)."""
        return f"{self.prefix}.poll-ticks"

    @property
    def poll_cursor_changelog(self) -> str:
        """Internal: the changelog of the poll-cursor table (connection id -> cursor and last slot polled)."""
        return f"{self.app_id}-poll-cursors-changelog"

    @property
    def buyer_order_changelog(self) -> str:
        """Internal: the changelog of the buyer-order table (buyer order -> the `order.placed` it became)."""
        return f"{self.app_id}-buyer-orders-changelog"

    @property
    def seller_order_retries(self) -> str:
        """Internal: orders whose creation on the seller's platform is to be tried again, keyed by order id."""
        return f"{self.prefix}.seller-order-retries"

    @property
    def seller_order_changelog(self) -> str:
        """Internal: the changelog of the seller-order table (order id -> the order created on the seller's
        platform)."""
        return f"{self.app_id}-seller-orders-changelog"

    @property
    def seller_checks(self) -> str:
        """Internal: seller orders whose fulfilments are to be read now (changed on the platform, a sweep, a
        retry), keyed by order id and co-partitioned with order-events."""
        return f"{self.prefix}.seller-checks"

    @property
    def seller_fulfillment_changelog(self) -> str:
        """Internal: the changelog of the seller-fulfilment table (order id -> what was published per seller
        fulfilment, and the order's watch window)."""
        return f"{self.app_id}-seller-fulfillments-changelog"

    @property
    def buyer_pushes(self) -> str:
        """Internal: orders whose fulfilments the ledger changed, to be written to the buyer's platform; keyed by
        order id, co-partitioned with order-events. Published by the ledger agent, consumed by the buyer sink."""
        return f"{self.prefix}.buyer-pushes"

    @property
    def buyer_push_retries(self) -> str:
        """Internal: buyer writes to try again after a retryable failure, keyed by order id."""
        return f"{self.prefix}.buyer-push-retries"

    @property
    def buyer_fulfillment_changelog(self) -> str:
        """Internal: the changelog of the buyer-fulfilment table (order id -> what was written to the buyer per
        seller fulfilment, with the buyer-side refs)."""
        return f"{self.app_id}-buyer-fulfillments-changelog"

    @property
    def public(self) -> tuple[str, str, str, str]:
        return (self.order_events, self.fulfillment_events, self.shipped_orders, self.dead_letters)
