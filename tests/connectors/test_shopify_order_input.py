"""`orderCreate`'s input for a seller order: linked lines as the seller's variants, custom lines flagged, prices,
shipping lines and our references (connectors/shopify/order_input.py)."""

from __future__ import annotations

from decimal import Decimal

from connectors.shopify.order_input import CREATE_OPTIONS, CUSTOM_LINES_TAG, MAX_NOTE_SKUS, create_order_input
from schemas.platform import Address, CatalogVariant, NewOrder, SellerLine

MUG = CatalogVariant(sku="MUG", product_ref="gid://shopify/Product/1", variant_ref="gid://shopify/ProductVariant/2",
                     price=Decimal("9.00"))


def _order(*lines: SellerLine, **details: object) -> NewOrder:
    return NewOrder.model_validate({"our_order_id": "ord_1", "lines": lines, **details})


def test_linked_and_custom_lines_are_priced_and_the_custom_ones_flag_the_order() -> None:
    sent = create_order_input(_order(
        SellerLine(line_ref="L1", sku="MUG", quantity=2, variant=MUG, unit_price=Decimal("7.25")),
        SellerLine(line_ref="L2", sku=None, quantity=1, title="Gift wrap", unit_price=Decimal("1.5")),
        buyer_order_number="#9", shipping_price=Decimal("4.90"), shipping_method="Express",
        shipping_address=Address(name="Cher", lines=("1 Rue",), city="Paris", country_code="FR")), "EUR")
    assert sent == {
        "sourceIdentifier": "ord_1", "tags": ["fulfillsync", CUSTOM_LINES_TAG], "poNumber": "#9",
        "customAttributes": [{"key": "fulfillsync_order_id", "value": "ord_1"},
                             {"key": "Shipping method", "value": "Express"}],
        "note": "fulfillsync: custom lines, not products of this store (SKU not in the catalog): L2",
        "lineItems": [
            {"variantId": "gid://shopify/ProductVariant/2", "quantity": 2,
             "priceSet": {"shopMoney": {"amount": "7.25", "currencyCode": "EUR"}},
             "properties": [{"name": "_fulfillsync_line", "value": "L1"}]},
            {"title": "Gift wrap", "sku": None, "quantity": 1, "requiresShipping": True,
             "priceSet": {"shopMoney": {"amount": "1.5", "currencyCode": "EUR"}},
             "properties": [{"name": "_fulfillsync_line", "value": "L2"}]}],
        "shippingLines": [{"title": "Express", "priceSet": {"shopMoney": {"amount": "4.90", "currencyCode": "EUR"}}}],
        "shippingAddress": {"lastName": "Cher", "address1": "1 Rue", "city": "Paris", "countryCode": "FR"}}


def test_an_order_of_catalog_items_only_is_not_flagged() -> None:
    sent = create_order_input(_order(SellerLine(line_ref="L1", sku="MUG", quantity=1, variant=MUG)), "USD")
    assert sent["tags"] == ["fulfillsync"] and "note" not in sent


def test_free_shipping_names_the_method_when_there_is_one_and_is_absent_otherwise() -> None:
    line = SellerLine(line_ref="L1", sku="MUG", quantity=1, variant=MUG)
    free = create_order_input(_order(line, shipping_method="Ground"), "USD")
    assert free["shippingLines"] == [{"title": "Ground", "priceSet": {"shopMoney": {"amount": "0",
                                                                                     "currencyCode": "USD"}}}]
    assert "shippingLines" not in create_order_input(_order(line), "USD")
    charged = create_order_input(_order(line, shipping_price=Decimal("3")), "USD")
    assert charged["shippingLines"][0]["title"] == "Shipping"


def test_the_note_names_many_skus_briefly() -> None:
    lines = [SellerLine(line_ref=f"L{n}", sku=f"S{n}", quantity=1) for n in range(MAX_NOTE_SKUS + 3)]
    note = create_order_input(_order(*lines), "USD")["note"]
    assert note.endswith(f"S{MAX_NOTE_SKUS - 1} and 3 more") and f"S{MAX_NOTE_SKUS}," not in note


def test_inventory_is_claimed_and_nobody_is_emailed() -> None:
    assert CREATE_OPTIONS == {"sendReceipt": False, "sendFulfillmentReceipt": False,
                              "inventoryBehaviour": "DECREMENT_IGNORING_POLICY"}
