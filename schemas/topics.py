"""Topic names: the public ones are part of the contract (README); the internal ones are the
implementation's (docs/architecture.md). Every topic is keyed by order id, except poll ticks (by connection id) and
requeued letters (by dead letter id).
The changelog topics of the worker's tables are named by Faust from the application id and the table's name
(`streams.kit.tables.TableSpec.changelog`)."""

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
    def poll_ticks(self) -> str:
        """Internal: one tick per connection and poll interval, keyed by connection id (not by order id)."""
        return f"{self.prefix}.poll-ticks"

    @property
    def seller_order_retries(self) -> str:
        """Internal: orders whose creation on the seller's platform is to be tried again, keyed by order id."""
        return f"{self.prefix}.seller-order-retries"

    @property
    def seller_checks(self) -> str:
        """Internal: seller orders whose fulfillments are to be read now (changed on the platform, a sweep, a
        retry), keyed by order id and co-partitioned with order-events."""
        return f"{self.prefix}.seller-checks"

    @property
    def buyer_pushes(self) -> str:
        """Internal: orders whose fulfillments the ledger changed, to be written to the buyer's platform; keyed by
        order id, co-partitioned with order-events. Published by the ledger agent, consumed by the buyer sink."""
        return f"{self.prefix}.buyer-pushes"

    @property
    def buyer_push_retries(self) -> str:
        """Internal: buyer writes to try again after a retryable failure, keyed by order id."""
        return f"{self.prefix}.buyer-push-retries"

    @property
    def requeued_letters(self) -> str:
        """Internal: one record per dead letter `fulfillsync dead-letters requeue` sent back, keyed by the letter's
        id (not by order id; compacted), so a letter is never requeued twice."""
        return f"{self.prefix}.requeued-letters"

    @property
    def input_types(self) -> dict[str, frozenset[str]]:
        """The record types each input topic carries."""
        return {self.order_events: frozenset({"order.placed", "order.buyer_cancelled"}),
                self.fulfillment_events: frozenset({"fulfillment.recorded", "fulfillment.cancelled"})}

    @property
    def public(self) -> tuple[str, str, str, str]:
        return (self.order_events, self.fulfillment_events, self.shipped_orders, self.dead_letters)
