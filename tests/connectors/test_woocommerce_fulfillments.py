"""WooCommerceConnector tracking against the simulated store: the seller's fulfillments as read, and the
buyer's fulfillments as written, on both tracking APIs (Shipment Tracking and core fulfillments)."""

from __future__ import annotations

import pytest

from connectors.base import MalformedResponseError, PermanentError, RetryableError
from sandbox.common import Fault
from schemas.platform import FulfillmentLine, FulfillmentRequest, Tracking
from tests.support.woocommerce_store import place, stock, woo

pytestmark = pytest.mark.asyncio


# -- seller side: core fulfillments ------------------------------------------------------------------------


async def test_seller_partial_fulfillments_with_quantities_edits_and_cancellation() -> None:
    shop = woo(tracking="fulfillments")
    stock(shop.store, "MUG", "CAP")
    order_id = place(shop.store, ("MUG", 3), ("CAP", 1))
    mug, cap = (str(item.id) for item in shop.store.order(order_id).line_items)
    connector = shop.connector(role="seller")  # auto: finds core fulfillments in the REST index
    assert await connector.fulfillments(str(order_id)) == ()

    first = shop.store.add_fulfillment(order_id, [
        {"key": "_items", "value": [{"item_id": int(mug), "qty": 2}]},
        {"key": "_tracking_number", "value": "1Z999AA10123456784"}, {"key": "_shipping_provider", "value": "ups"}])
    shop.advance(60)
    shop.store.add_fulfillment(order_id, [
        {"key": "_items", "value": [{"item_id": int(mug), "qty": 1}, {"item_id": int(cap), "qty": 1}]},
        {"key": "_tracking_number", "value": "9400111899223100000000"}, {"key": "_shipping_provider", "value":
                                                                          "usps"},
        {"key": "_tracking_url", "value": "https://tools.usps.com/x?n=9400111899223100000000"}])
    one, two = await connector.fulfillments(str(order_id))
    assert one.fulfillment_ref == str(first.id) and one.order_ref == str(order_id) and not one.cancelled
    assert one.lines == (FulfillmentLine(line_ref=mug, quantity=2),)
    assert one.tracking == Tracking(carrier="UPS", numbers=("1Z999AA10123456784",), urls=(None,))
    assert set(two.lines) == {FulfillmentLine(line_ref=mug, quantity=1), FulfillmentLine(line_ref=cap, quantity=1)}
    assert two.tracking.carrier == "USPS" and two.tracking.urls == ("https://tools.usps.com/x?n=9400111899223100000000",)

    shop.advance(60)
    shop.store.edit_fulfillment_tracking(order_id, first.id, tracking_number="1Z999AA10123456785")
    edited = (await connector.fulfillments(str(order_id)))[0]
    assert edited.fulfillment_ref == one.fulfillment_ref and edited.updated_at > one.updated_at
    assert edited.tracking.numbers == ("1Z999AA10123456785",) and edited.lines == one.lines

    shop.advance(60)
    shop.store.delete_fulfillment(order_id, first.id)
    cancelled = (await connector.fulfillments(str(order_id)))[0]
    assert cancelled.cancelled and cancelled.updated_at > edited.updated_at
    await connector.aclose()


async def test_seller_draft_fulfillments_are_not_shipments() -> None:
    shop = woo(tracking="fulfillments")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 1))
    item = shop.store.order(order_id).line_items[0].id
    shop.store.add_fulfillment(order_id, [{"key": "_items", "value": [{"item_id": item, "qty": 1}]}],
                               status="unfulfilled")
    connector = shop.connector(role="seller", tracking_api="fulfillments")
    assert await connector.fulfillments(str(order_id)) == ()
    await connector.aclose()


# -- seller side: Shipment Tracking --------------------------------------------------------------------------


async def test_seller_shipment_tracking_is_one_whole_order_fulfillment_edited_and_cancelled() -> None:
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG", "CAP")
    order_id = place(shop.store, ("MUG", 2), ("CAP", 1))
    lines = {str(item.id): item.quantity for item in shop.store.order(order_id).line_items}
    connector = shop.connector(role="seller")
    assert await connector.fulfillments(str(order_id)) == ()

    first = shop.store.add_tracking(order_id, "1Z999AA10123456784", tracking_provider="UPS")
    shop.store.add_tracking(order_id, "1Z999AA10123456785", tracking_provider="UPS")
    (found,) = await connector.fulfillments(str(order_id))
    assert found.fulfillment_ref == f"{order_id}-shipment-tracking" and not found.cancelled
    assert {line.line_ref: line.quantity for line in found.lines} == lines
    assert found.tracking.carrier == "UPS"
    assert found.tracking.numbers == ("1Z999AA10123456784", "1Z999AA10123456785")
    assert found.tracking.urls[0] == "https://www.ups.com/track?loc=en_US&tracknum=1Z999AA10123456784"

    shop.advance(60)  # the merchant corrects a number: Shipment Tracking deletes and re-adds
    shop.store.edit_tracking(order_id, first.tracking_id, tracking_number="CUSTOM-77",
                             custom_tracking_provider="Acme Couriers", custom_tracking_link="https://acme.test/77")
    (edited,) = await connector.fulfillments(str(order_id))
    assert edited.fulfillment_ref == found.fulfillment_ref and edited.updated_at > found.updated_at
    assert edited.tracking.numbers == ("1Z999AA10123456785", "CUSTOM-77")
    assert edited.tracking.urls[1] == "https://acme.test/77"

    shop.advance(60)
    for item in list(shop.store.order(order_id).tracking):
        shop.store.delete_tracking(order_id, item.tracking_id)
    (gone,) = await connector.fulfillments(str(order_id))
    assert gone.cancelled and gone.fulfillment_ref == found.fulfillment_ref and gone.updated_at > edited.updated_at
    await connector.aclose()


# -- buyer side -----------------------------------------------------------------------------------------------


def request(our_id: str, lines: list[tuple[str, int]], numbers: tuple[str, ...], carrier: str | None = "UPS",
            urls: tuple[str | None, ...] = ()) -> FulfillmentRequest:
    return FulfillmentRequest(our_fulfillment_id=our_id,
                              lines=tuple(FulfillmentLine(line_ref=ref, quantity=qty) for ref, qty in lines),
                              tracking=Tracking(carrier=carrier, numbers=numbers, urls=urls))


async def test_buyer_core_fulfillments_of_identical_parcels_stay_two() -> None:
    """Two seller fulfillments of identical parcels, and a merchant's own fulfillment alike: each request finds
    only the fulfillment carrying its id."""
    shop = woo(tracking="fulfillments")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 3))
    (mug,) = (str(item.id) for item in shop.store.order(order_id).line_items)
    connector = shop.connector(tracking_api="fulfillments")
    first, twin = (request(our_id, [(mug, 1)], ("1Z1",)) for our_id in ("ful-1", "ful-2"))
    shop.store.add_fulfillment(order_id, [{"key": "_items", "value": [{"item_id": int(mug), "qty": 1}]},
                                          {"key": "_tracking_number", "value": "1Z1"}])  # the merchant's own
    assert await connector.find_fulfillment(str(order_id), first) is None
    ref = await connector.create_fulfillment(str(order_id), first)
    assert await connector.find_fulfillment(str(order_id), twin) is None
    twin_ref = await connector.create_fulfillment(str(order_id), twin)
    assert twin_ref != ref and await connector.find_fulfillment(str(order_id), twin) == twin_ref
    await connector.cancel_fulfillment(str(order_id), ref)
    assert await connector.find_fulfillment(str(order_id), twin) == twin_ref
    assert await connector.find_fulfillment(str(order_id), first) is None


async def test_buyer_core_fulfillments_create_find_update_cancel() -> None:
    shop = woo(tracking="fulfillments")
    stock(shop.store, "MUG", "CAP")
    order_id = place(shop.store, ("MUG", 3), ("CAP", 1))
    mug, cap = (str(item.id) for item in shop.store.order(order_id).line_items)
    connector = shop.connector(tracking_api="fulfillments", notify=True)
    wanted = request("ful-1", [(mug, 2)], ("1Z1", "1Z2"))
    assert await connector.find_fulfillment(str(order_id), wanted) is None

    ref = await connector.create_fulfillment(str(order_id), wanted)
    assert await connector.find_fulfillment(str(order_id), wanted) == ref
    assert shop.store.customer_notifications == [order_id]
    stored = shop.store.fulfillment(order_id, int(ref))
    meta = {m.key: m.value for m in stored.meta}
    assert meta["_items"] == [{"item_id": int(mug), "qty": 2}]
    assert meta["_tracking_number"] == "1Z1" and meta["_shipping_provider"] == "ups"
    assert "_tracking_url" not in meta  # none given: WooCommerce builds it from the provider
    (read,) = await connector.fulfillments(str(order_id))  # what a seller poll of this store would see
    assert read.tracking.numbers == ("1Z1", "1Z2") and read.lines == wanted.lines

    second = request("ful-2", [(mug, 1), (cap, 1)], ("94001",), carrier="USPS", urls=("https://usps.test/94001",))
    assert await connector.find_fulfillment(str(order_id), second) is None  # ful-1 is not mistaken for it
    second_ref = await connector.create_fulfillment(str(order_id), second)
    assert second_ref != ref
    meta = {m.key: m.value for m in shop.store.fulfillment(order_id, int(second_ref)).meta}
    assert (meta["_tracking_url"], meta["_shipping_provider"]) == ("https://usps.test/94001", "usps")

    assert await connector.update_tracking(str(order_id), ref, Tracking(carrier="FedEx", numbers=("7489",))) == ref
    meta = {m.key: m.value for m in shop.store.fulfillment(order_id, int(ref)).meta}
    assert meta["_tracking_number"] == "7489" and meta["_shipping_provider"] == "fedex"
    assert "_fulfillsync_tracking" not in meta and meta["_items"] == [{"item_id": int(mug), "qty": 2}]

    await connector.cancel_fulfillment(str(order_id), ref)
    await connector.cancel_fulfillment(str(order_id), ref)  # already cancelled: a no-op
    assert shop.store.fulfillment(order_id, int(ref)).date_deleted is not None
    assert await connector.find_fulfillment(str(order_id), wanted) is None
    await connector.aclose()


async def test_buyer_core_fulfillment_that_over_fulfills_is_refused_with_woocommerces_message() -> None:
    shop = woo(tracking="fulfillments")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 1))
    mug = str(shop.store.order(order_id).line_items[0].id)
    connector = shop.connector(tracking_api="fulfillments")
    with pytest.raises(PermanentError) as refused:
        await connector.create_fulfillment(str(order_id), request("ful-1", [(mug, 2)], ("1Z1", "1Z2")))
    assert refused.value.status == 400
    assert "exceeds" in refused.value.platform_message
    assert "woocommerce_rest_fulfillment_invalid_items" in str(refused.value)
    assert shop.store.order(order_id).fulfillments == []
    await connector.aclose()


async def test_buyer_shipment_tracking_create_find_update_cancel() -> None:
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG", "CAP")
    order_id = place(shop.store, ("MUG", 3), ("CAP", 1))
    mug, cap = (str(item.id) for item in shop.store.order(order_id).line_items)
    connector = shop.connector()  # auto: finds the Shipment Tracking namespace
    first = request("ful-1", [(mug, 2)], ("1Z1", "1Z2"))
    other = request("ful-2", [(mug, 1), (cap, 1)], ("ACME-9",), carrier="Acme Couriers",
                    urls=("https://acme.test/t/ACME-9",))
    assert await connector.find_fulfillment(str(order_id), first) is None

    ref = await connector.create_fulfillment(str(order_id), first)
    other_ref = await connector.create_fulfillment(str(order_id), other)
    assert await connector.find_fulfillment(str(order_id), first) == ref
    assert await connector.find_fulfillment(str(order_id), other) == other_ref
    items = shop.store.order(order_id).tracking
    assert [i.tracking_number for i in items] == ["1Z1", "1Z2", "ACME-9"]
    assert ref == items[0].tracking_id and len(ref) == 32
    assert items[0].provider_slug == "ups"
    assert (items[2].provider_slug, items[2].custom_provider, items[2].custom_link) == (
        "", "Acme Couriers", "https://acme.test/t/ACME-9")

    new_ref = await connector.update_tracking(str(order_id), ref, Tracking(carrier="USPS", numbers=("9400",)))
    assert new_ref != ref
    assert [i.tracking_number for i in shop.store.order(order_id).tracking] == ["ACME-9", "9400"]
    assert await connector.find_fulfillment(str(order_id), first.model_copy(
        update={"tracking": Tracking(carrier="USPS", numbers=("9400",))})) == new_ref

    await connector.cancel_fulfillment(str(order_id), new_ref)
    await connector.cancel_fulfillment(str(order_id), new_ref)  # a no-op
    assert [i.tracking_number for i in shop.store.order(order_id).tracking] == ["ACME-9"]
    assert await connector.find_fulfillment(str(order_id), first) is None
    await connector.aclose()


async def test_buyer_shipment_tracking_needs_a_tracking_number() -> None:
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 1))
    mug = str(shop.store.order(order_id).line_items[0].id)
    connector = shop.connector(tracking_api="shipment-tracking")
    with pytest.raises(PermanentError, match="has no tracking number"):
        await connector.create_fulfillment(str(order_id), request("ful-1", [(mug, 1)], ()))
    assert shop.store.order(order_id).tracking == []
    await connector.aclose()


async def test_buyer_shipment_tracking_retry_after_an_interrupted_create_makes_no_duplicate() -> None:
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 2))
    mug = str(shop.store.order(order_id).line_items[0].id)
    connector = shop.connector(tracking_api="shipment-tracking")
    wanted = request("ful-1", [(mug, 2)], ("1Z1", "1Z2"))
    # The store adds the first item but the answer is cut off: the attempt fails after one item was written.
    shop.app.sandbox.faults.append(Fault(truncate=True, times=1, path="shipment-trackings$", method="POST"))
    with pytest.raises(MalformedResponseError):
        await connector.create_fulfillment(str(order_id), wanted)
    assert [i.tracking_number for i in shop.store.order(order_id).tracking] == ["1Z1"]

    assert await connector.find_fulfillment(str(order_id), wanted) is None  # not every number is there
    ref = await connector.create_fulfillment(str(order_id), wanted)  # the retry completes the group
    assert [i.tracking_number for i in shop.store.order(order_id).tracking] == ["1Z1", "1Z2"]
    assert ref == shop.store.order(order_id).tracking[0].tracking_id
    assert await connector.find_fulfillment(str(order_id), wanted) == ref
    await connector.aclose()


async def test_buyer_find_recovers_a_create_whose_group_record_was_lost() -> None:
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 2))
    mug = str(shop.store.order(order_id).line_items[0].id)
    connector = shop.connector(tracking_api="shipment-tracking")
    wanted = request("ful-1", [(mug, 2)], ("1Z1", "1Z2"))
    # Both items are added, then recording the group (PUT on the order) fails on every retry.
    shop.app.sandbox.faults.append(Fault(status=503, times=5, path=r"/orders/\d+$", method="PUT"))
    with pytest.raises(RetryableError, match="503"):
        await connector.create_fulfillment(str(order_id), wanted)
    ref = await connector.find_fulfillment(str(order_id), wanted)
    assert ref == shop.store.order(order_id).tracking[0].tracking_id
    assert await connector.find_fulfillment(str(order_id), wanted) == ref  # now from the recorded group
    assert len(shop.store.order(order_id).tracking) == 2
    await connector.aclose()


async def test_buyer_shipment_tracking_retry_after_an_interrupted_update_makes_no_duplicate() -> None:
    """The plugin has no update: the old items are deleted and new ones added. An attempt cut off after its first
    new item (the group still records the old ones) is resumed by the retry, which reuses that item."""
    shop = woo(tracking="shipment-tracking")
    stock(shop.store, "MUG")
    order_id = place(shop.store, ("MUG", 2))
    mug = str(shop.store.order(order_id).line_items[0].id)
    connector = shop.connector(tracking_api="shipment-tracking")
    ref = await connector.create_fulfillment(str(order_id), request("ful-1", [(mug, 2)], ("1Z1",)))
    new = Tracking(carrier="UPS", numbers=("1Z8", "1Z9"))
    shop.app.sandbox.faults.append(Fault(truncate=True, times=1, path="shipment-trackings$", method="POST"))
    with pytest.raises(MalformedResponseError):
        await connector.update_tracking(str(order_id), ref, new)
    assert [i.tracking_number for i in shop.store.order(order_id).tracking] == ["1Z8"]
    updated = await connector.update_tracking(str(order_id), ref, new)  # the retry, as the sink makes it
    assert [i.tracking_number for i in shop.store.order(order_id).tracking] == ["1Z8", "1Z9"]
    assert updated == shop.store.order(order_id).tracking[0].tracking_id
    assert await connector.find_fulfillment(str(order_id), request("ful-1", [(mug, 2)], ("1Z8", "1Z9"))) == updated
    await connector.aclose()
