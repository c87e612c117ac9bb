"""A connector for tests of the agents' logic: every platform call fails as not used, so a test subclasses it
and overrides only the calls its code under test may make (an unexpected call fails the test)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connectors.base import Skip, StoreConnector
from schemas.platform import (
    CatalogLookup,
    CreatedOrder,
    FulfillmentRequest,
    NewOrder,
    OrderCancellation,
    Page,
    PlatformFulfillment,
    PlatformOrder,
    Tracking,
)


class UnusedStore(StoreConnector):
    async def aclose(self) -> None:
        pass

    async def orders_changed_since(self, cursor: str | None, skip: Skip | None = None) -> Page[PlatformOrder]:
        raise NotImplementedError("orders_changed_since is not used by this test")

    async def find_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str | None:
        raise NotImplementedError("find_fulfillment is not used by this test")

    async def create_fulfillment(self, order_ref: str, request: FulfillmentRequest) -> str:
        raise NotImplementedError("create_fulfillment is not used by this test")

    async def update_tracking(self, order_ref: str, fulfillment_ref: str, tracking: Tracking) -> str:
        raise NotImplementedError("update_tracking is not used by this test")

    async def cancel_fulfillment(self, order_ref: str, fulfillment_ref: str) -> None:
        raise NotImplementedError("cancel_fulfillment is not used by this test")

    async def catalog_variants(self, skus: Sequence[str]) -> CatalogLookup:
        raise NotImplementedError("catalog_variants is not used by this test")

    async def find_order(self, order: NewOrder) -> CreatedOrder | None:
        raise NotImplementedError("find_order is not used by this test")

    async def create_order(self, order: NewOrder) -> CreatedOrder:
        raise NotImplementedError("create_order is not used by this test")

    async def fulfillments(self, order_ref: str, known_refs: Iterable[str] = ()) -> tuple[PlatformFulfillment, ...]:
        raise NotImplementedError("fulfillments is not used by this test")

    async def cancel_order(self, order_ref: str, cancellation: OrderCancellation) -> None:
        raise NotImplementedError("cancel_order is not used by this test")
