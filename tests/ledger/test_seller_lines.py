"""The seller order's lines linked to the seller's catalog and priced (`ledger.seller_lines`): one test per rule
of the module docstring, then properties over random catalogs and routes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.seller_lines import CatalogRefusal, SellerOrder, line_route, order_skus, seller_order
from schemas.config import Route
from schemas.events import OrderLine, OrderPlaced, PartyRef
from schemas.factories import order_placed
from schemas.platform import CatalogLookup, CatalogVariant

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def placed(*lines: tuple[str, int], buyer: str = "b", seller: str = "s") -> OrderPlaced:
    return order_placed(buyer=PartyRef(partner=buyer, connection=buyer, platform="shopify", order_ref="1001"),
                        seller=PartyRef(partner=seller, connection=seller, platform="shopify"),
                        lines=[OrderLine(line_id=f"L{n}", sku=sku, quantity=qty, title=f"T{n}")
                               for n, (sku, qty) in enumerate(lines)], occurred_at=T0)


def route(skus: list[str], **settings: Any) -> Route:
    return Route.model_validate({"buyer": "b", "seller": "s", "skus": skus, **settings})


def variant(sku: str, n: int = 1, price: str | None = "10.00") -> CatalogVariant:
    return CatalogVariant(sku=sku, product_ref=f"p{n}", variant_ref=f"v{n}", title=sku,
                          price=None if price is None else Decimal(price))


def catalog(*variants: CatalogVariant, asked: tuple[str, ...] = (), currency: str = "EUR") -> CatalogLookup:
    found: dict[str, tuple[CatalogVariant, ...]] = {sku: () for sku in asked}
    for item in variants:
        found[item.sku] = (*found.get(item.sku, ()), item)
    return CatalogLookup(currency=currency, variants=found)


def test_a_line_is_linked_to_the_one_variant_with_its_sku_at_the_catalog_price() -> None:
    result = seller_order(placed(("A-1", 2)), [route(["A-*"])], catalog(variant("A-1", price="7.25")))
    assert isinstance(result, SellerOrder)
    (line,) = result.lines
    assert (line.line_ref, line.sku, line.quantity, line.title) == ("L0", "A-1", 2, "T0")
    assert line.variant == variant("A-1", price="7.25") and line.unit_price == Decimal("7.25")
    assert result.currency == "EUR" and result.shipping_price == 0


def test_the_price_list_wins_over_the_catalog_and_unlisted_skus_take_the_catalog_price() -> None:
    rules = [route(["A-*"], price={"list": {"A-1": "5.10"}})]
    result = seller_order(placed(("A-1", 1), ("A-2", 1)), rules, catalog(variant("A-1", 1), variant("A-2", 2)))
    assert isinstance(result, SellerOrder)
    assert [line.unit_price for line in result.lines] == [Decimal("5.10"), Decimal("10.00")]


def test_a_sku_the_catalog_lacks_refuses_the_whole_order_by_default() -> None:
    result = seller_order(placed(("A-1", 1), ("A-2", 1), ("A-3", 1)), [route(["A-*"])],
                          catalog(variant("A-1"), asked=("A-2", "A-3")))
    assert result == CatalogRefusal(reason="unknown_sku", unknown=("A-2", "A-3"), ambiguous=())
    text = result.text("acme-shop")
    assert "'A-2', 'A-3'" in text and "acme-shop" in text and "requeue" in text


def test_custom_line_sends_the_unknown_sku_unlinked_at_its_listed_price_or_zero() -> None:
    rules = [route(["A-*"], unknown_sku="custom_line", price={"list": {"A-2": "3"}})]
    result = seller_order(placed(("A-1", 1), ("A-2", 4), ("A-3", 1)), rules, catalog(variant("A-1")))
    assert isinstance(result, SellerOrder)
    assert [(line.sku, line.variant is None, line.unit_price) for line in result.lines] == [
        ("A-1", False, Decimal("10.00")), ("A-2", True, Decimal(3)), ("A-3", True, Decimal(0))]


def test_several_variants_with_one_sku_refuse_the_order_even_with_custom_line() -> None:
    rules = [route(["A-*"], unknown_sku="custom_line")]
    result = seller_order(placed(("A-1", 1)), rules, catalog(variant("A-1", 1), variant("A-1", 2)))
    assert result == CatalogRefusal(reason="ambiguous_sku", unknown=(), ambiguous=("A-1",))
    assert "give each its own SKU" in result.text("s")


def test_ambiguous_wins_over_unknown_as_the_reason_and_both_are_named() -> None:
    result = seller_order(placed(("A-1", 1), ("A-2", 1)), [route(["A-*"])],
                          catalog(variant("A-1", 1), variant("A-1", 2), asked=("A-2",)))
    assert isinstance(result, CatalogRefusal)
    assert (result.reason, result.unknown, result.ambiguous) == ("ambiguous_sku", ("A-2",), ("A-1",))
    assert "'A-1'" in result.text("s") and "'A-2'" in result.text("s")


def test_a_catalog_item_without_a_price_is_not_sellable_unless_listed() -> None:
    unpriced = catalog(variant("A-1", price=None))
    assert isinstance(seller_order(placed(("A-1", 1)), [route(["A-*"])], unpriced), CatalogRefusal)
    listed = seller_order(placed(("A-1", 1)), [route(["A-*"], price={"list": {"A-1": "2"}})], unpriced)
    assert isinstance(listed, SellerOrder) and listed.lines[0].variant is not None
    assert listed.lines[0].unit_price == Decimal(2)


def test_the_first_covering_route_of_the_pair_decides_and_shipping_is_the_largest_flat_charge() -> None:
    rules = [Route.model_validate({"buyer": "other", "seller": "s", "skus": ["*"], "shipping": {"flat": 99}}),
             route(["A-1"], shipping={"flat": "4.90"}, price={"list": {"A-1": "1"}}),
             route(["A-*"], shipping={"flat": "2.50"}, price={"list": {"A-1": "8"}}),
             route(["B-*"])]
    order = placed(("A-1", 1), ("A-2", 1), ("B-1", 1))
    assert line_route(order, rules, "A-1") is rules[1] and line_route(order, rules, "A-2") is rules[2]
    result = seller_order(order, rules, catalog(variant("A-1", 1), variant("A-2", 2), variant("B-1", 3)))
    assert isinstance(result, SellerOrder)
    assert result.lines[0].unit_price == Decimal(1) and result.shipping_price == Decimal("4.90")
    free = seller_order(placed(("B-1", 1)), rules, catalog(variant("B-1", 3)))
    assert isinstance(free, SellerOrder) and free.shipping_price == 0


def test_a_line_no_route_covers_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="covers SKU 'Z-1'"):
        seller_order(placed(("Z-1", 1)), [route(["A-*"])], catalog(variant("Z-1")))


def test_order_skus_are_each_sku_once_sorted() -> None:
    assert order_skus(placed(("B", 1), ("A", 1), ("B", 2))) == ("A", "B")


def test_a_refusal_names_ten_skus_and_counts_the_rest() -> None:
    skus = [f"A-{n:02}" for n in range(13)]
    result = seller_order(placed(*((sku, 1) for sku in skus)), [route(["A-*"])], catalog(asked=tuple(skus)))
    assert isinstance(result, CatalogRefusal)
    assert "'A-09' and 3 more" in result.text("s") and "A-10" not in result.text("s")


SKUS = st.sampled_from(["A-1", "A-2", "A-3", "B-1", "B-2"])
PRICES = st.decimals(min_value=0, max_value=1000, places=2)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(SKUS, st.integers(1, 5)), min_size=1, max_size=6, unique_by=lambda line: line[0]),
       counts=st.dictionaries(SKUS, st.integers(0, 2)), prices=st.dictionaries(SKUS, PRICES),
       listed=st.dictionaries(SKUS, PRICES), unknown_sku=st.sampled_from(["reject", "custom_line"]),
       flat=st.one_of(st.none(), PRICES))
def test_the_seller_order_follows_the_rules(lines: list[tuple[str, int]], counts: dict[str, int],
                                            prices: dict[str, Decimal], listed: dict[str, Decimal],
                                            unknown_sku: str, flat: Decimal | None) -> None:
    settings_: dict[str, Any] = {"unknown_sku": unknown_sku}
    if listed:
        settings_["price"] = {"list": listed}
    if flat is not None:
        settings_["shipping"] = {"flat": flat}
    rules = [route(["A-*", "B-*"], **settings_)]
    variants = [variant(sku, n, price=str(prices[sku]) if sku in prices else None)
                for sku, count in counts.items() for n in range(count)]
    lookup = catalog(*variants, asked=tuple(sku for sku, _ in lines))
    order = placed(*lines)
    result = seller_order(order, rules, lookup)
    assert result == seller_order(order, rules, lookup)  # deterministic

    def sellable(sku: str) -> bool:
        return counts.get(sku, 0) == 1 and (sku in prices or sku in listed)

    ambiguous = [sku for sku, _ in lines if counts.get(sku, 0) > 1]
    missing = [sku for sku, _ in lines if counts.get(sku, 0) <= 1 and not sellable(sku)]
    if ambiguous or (missing and unknown_sku == "reject"):
        assert isinstance(result, CatalogRefusal)
        assert result.ambiguous == tuple(ambiguous)
        assert result.reason == ("ambiguous_sku" if ambiguous else "unknown_sku")
        assert result.unknown == (tuple(missing) if unknown_sku == "reject" else ())
        return
    assert isinstance(result, SellerOrder)
    assert [(line.sku, line.quantity) for line in result.lines] == lines  # every line, in order, whole
    for line in result.lines:
        assert line.sku is not None
        assert (line.variant is not None) == sellable(line.sku)
        expected = listed.get(line.sku, prices.get(line.sku, Decimal(0)) if line.variant else Decimal(0))
        assert line.unit_price == expected
    assert result.shipping_price == (flat or 0) and result.currency == "EUR"
