"""The BigCommerce connector's seller catalog against its simulated store: variants found by exact SKU with their
price, options and inventory in the store's currency (`catalog_variants`), and orders made of catalog items at the
price given, taking the seller's inventory (`create_order`). Every exchange is checked against the official specs:
`orders.v2.oas2.yml` for V2, `catalog-variants.v3.yml` / `catalog-products.v3.yml` for the catalog
(`tests.support.bigcommerce_store.CatalogCheckingTransport`)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import PermanentError
from connectors.bigcommerce import catalog as bc_catalog
from connectors.bigcommerce import plan
from sandbox.bigcommerce.catalog import Product
from schemas.platform import Address, CatalogVariant, NewOrder, SellerLine
from tests.support.bigcommerce_store import Harness, catalog_harness

ADDRESS = Address(name="Ada Lovelace", lines=("1 Main St",), city="Austin", region="TX", postal_code="78751",
                  country_code="US")


@pytest.fixture
def h(platform_specs: Path) -> Iterator[Harness]:
    bench = catalog_harness(platform_specs, currency="EUR")
    yield bench
    assert bench.transport.problems == [], "\n".join(bench.transport.problems)


def _paths(h: Harness) -> list[str]:
    return [f"{r.method} {r.url.path.split('/stores/')[1].split('/', 1)[1]}" for r in h.transport.sent]


def _tee(h: Harness) -> Product:
    product: Product = h.store.catalog.add_product(
        name="Tee", sku="ACME-TEE", price="20.00", variants=[
            {"sku": "ACME-TEE-S", "options": {"Size": "S"}, "inventory": 3},
            {"sku": "ACME-TEE-L", "options": {"Size": "L"}, "price": "22.00", "inventory": 4},
            {"sku": "ACME-TEE-XL", "options": {"Size": "XL"}, "inventory": 9, "purchasing_disabled": True}])
    return product


# -- catalog_variants ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_each_sku_finds_its_sellable_variants_exactly_with_price_options_and_inventory(h: Harness) -> None:
    catalog = h.store.catalog
    mug = catalog.add_product(name="Mug", sku="ACME-MUG", price="12.50", inventory=7)
    tee = _tee(h)
    catalog.add_product(name="Gone", sku="ACME-OFF", price="5", inventory=1, availability="disabled")
    hidden = catalog.add_product(name="Wholesale box", sku="ACME-BOX", price="3", inventory=2, is_visible=False)
    untracked = catalog.add_product(name="Pen", sku="ACME-PEN", price="1", inventory=0, inventory_tracking="none")
    skus = ["ACME-MUG", "ACME-TEE-S", "ACME-TEE-L", "acme-mug", "ACME-OFF", "ACME-TEE-XL", "NOPE", "ACME-BOX",
            "ACME-PEN"]

    found = await h.connector().catalog_variants(skus)

    assert found.currency == "EUR" and list(found.variants) == skus
    small, large = tee.variants[0], tee.variants[1]
    size = str(tee.options["Size"])
    assert found.variants["ACME-MUG"] == (CatalogVariant(
        sku="ACME-MUG", product_ref=str(mug.id), variant_ref=str(mug.variants[0].id), title="Mug",
        price=Decimal("12.50"), options=(), inventory=7),)
    assert found.variants["ACME-TEE-S"] == (CatalogVariant(  # no price of its own: the product's
        sku="ACME-TEE-S", product_ref=str(tee.id), variant_ref=str(small.id), title="Tee (S)",
        price=Decimal("20.00"), options=((size, str(small.option_values[0].id)),), inventory=3),)
    [large_found] = found.variants["ACME-TEE-L"]
    assert (large_found.price, large_found.variant_ref, large_found.inventory) == (Decimal("22.00"),
                                                                                   str(large.id), 4)
    for absent in ("acme-mug", "ACME-OFF", "ACME-TEE-XL", "NOPE"):  # other case, disabled, not purchasable, none
        assert found.variants[absent] == (), absent
    assert [v.product_ref for v in found.variants["ACME-BOX"]] == [str(hidden.id)]  # hidden, still the seller's
    assert [v.inventory for v in found.variants["ACME-PEN"]] == [None] and untracked.inventory_tracking == "none"
    assert _paths(h) == ["GET v2/store", "GET v3/catalog/variants", "GET v3/catalog/products"]
    assert h.transport.checked >= 2  # both catalog answers validated against their spec


@pytest.mark.asyncio
async def test_a_store_whose_sku_filter_ignores_case_cannot_make_one_sku_two(h: Harness) -> None:
    h.store.catalog.add_product(name="Mug", sku="ACME-MUG", price="12.50", inventory=7)
    found = await h.connector().catalog_variants(["ACME-MUG", "acme-mug", "Acme-Mug"])
    assert [len(found.variants[sku]) for sku in ("ACME-MUG", "acme-mug", "Acme-Mug")] == [1, 0, 0]


@pytest.mark.asyncio
async def test_many_skus_are_asked_in_batches_and_pages_are_followed(h: Harness,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    skus = [f"SKU-{n:03d}" for n in range(120)]
    h.store.catalog.stock(skus, price="2.00", inventory=5)
    found = await h.connector().catalog_variants([*skus, "NOT,THERE"])
    assert all(len(found.variants[sku]) == 1 for sku in skus) and found.variants["NOT,THERE"] == ()
    variant_queries = [r.url.params for r in h.transport.sent if r.url.path.endswith("/variants")]
    assert [len(q["sku:in"].split(",")) for q in variant_queries if "sku:in" in q] == [50, 50, 20]
    assert [q["sku"] for q in variant_queries if "sku" in q] == ["NOT,THERE"]  # a comma cannot go in sku:in
    assert sum(1 for r in h.transport.sent if r.url.path.endswith("/products")) == 2  # 100 products a request

    h.transport.sent.clear()
    monkeypatch.setattr(bc_catalog, "PAGE_LIMIT", 2)
    again = await h.connector().catalog_variants(skus[:5])
    assert all(len(again.variants[sku]) == 1 for sku in skus[:5])
    pages = [r.url.params["page"] for r in h.transport.sent if r.url.path.endswith("/variants")]
    assert pages == ["1", "2", "3"]


@pytest.mark.asyncio
async def test_no_skus_reads_only_the_currency(h: Harness) -> None:
    assert (await h.connector().catalog_variants([])).variants == {}
    assert _paths(h) == ["GET v2/store"]


def test_sku_queries_stay_short() -> None:
    long = [f"{n:03d}" + "X" * 200 for n in range(20)]
    queries = bc_catalog.sku_queries([*long, *long])
    assert sorted(s for q in queries for s in q["sku:in"].split(",")) == sorted(long)  # each once
    assert all(len(q["sku:in"]) <= bc_catalog.SKU_QUERY_CHARS for q in queries)


# -- create_order ------------------------------------------------------------------------------------------


def _order(*lines: SellerLine, our_id: str = "ord-1", shipping: str = "4.90", **fields: Any) -> NewOrder:
    return NewOrder(our_order_id=our_id, buyer_order_number="#1001", email="ada@example.com", lines=lines,
                    shipping_address=ADDRESS, shipping_price=Decimal(shipping), **fields)


@pytest.mark.asyncio
async def test_catalog_lines_are_the_sellers_products_at_the_price_given_and_take_its_inventory(h: Harness) -> None:
    catalog = h.store.catalog
    catalog.add_product(name="Mug", sku="ACME-MUG", price="12.50", inventory=10)
    tee = _tee(h)
    found = (await h.connector().catalog_variants(["ACME-MUG", "ACME-TEE-L"])).variants
    order = _order(SellerLine(line_ref="l1", sku="ACME-MUG", quantity=2, variant=found["ACME-MUG"][0],
                              unit_price=Decimal("9.75")),
                   SellerLine(line_ref="l2", sku="ACME-TEE-L", quantity=1, variant=found["ACME-TEE-L"][0],
                              unit_price=Decimal("22.00")))

    created = await h.connector().create_order(order)

    placed = h.store.orders[int(created.order_ref)]
    mug, tee_l = placed.products
    assert (mug.product_id, mug.variant_id, mug.sku, mug.name, mug.price) == (
        int(found["ACME-MUG"][0].product_ref), int(found["ACME-MUG"][0].variant_ref), "ACME-MUG", "Mug", "9.7500")
    assert (tee_l.product_id, tee_l.variant_id, tee_l.sku) == (tee.id, tee.variants[1].id, "ACME-TEE-L")
    assert [value.label for value in tee_l.options] == ["L"]
    assert catalog.find_sku("ACME-MUG")[1].inventory_level == 8 and tee.variants[1].inventory_level == 3
    raw = (await h.connector()._get(f"/v2/orders/{created.order_ref}"))[0]
    assert (raw["shipping_cost_inc_tax"], raw["total_inc_tax"], raw["currency_code"]) == ("4.9000", "46.4000",
                                                                                          "EUR")
    assert "fulfillsync" not in raw["staff_notes"]  # nothing to flag
    assert created.line_refs == {"l1": str(mug.id), "l2": str(tee_l.id)}

    assert await h.connector().create_order(order) == created  # a retry finds it, and takes nothing more
    assert len(h.store.orders) == 1 and catalog.find_sku("ACME-MUG")[1].inventory_level == 8


@pytest.mark.asyncio
async def test_custom_lines_are_priced_and_the_order_flagged_with_their_skus(h: Harness) -> None:
    h.store.catalog.add_product(name="Mug", sku="ACME-MUG", price="12.50", inventory=10)
    [mug] = (await h.connector().catalog_variants(["ACME-MUG"])).variants["ACME-MUG"]
    created = await h.connector().create_order(_order(
        SellerLine(line_ref="l1", sku="ACME-MUG", quantity=1, variant=mug, unit_price=Decimal("12.50")),
        SellerLine(line_ref="l2", sku="ACME-GIFT", quantity=3, title="Gift card", unit_price=Decimal("1.10")),
        shipping="0"))
    placed = h.store.orders[int(created.order_ref)]
    gift = placed.products[1]
    assert (gift.product_id, gift.sku, gift.name, gift.price, gift.quantity) == (0, "ACME-GIFT", "Gift card",
                                                                               "1.1000", 3)
    assert plan.UNLINKED_FLAG in placed.staff_notes and "ACME-GIFT" in placed.staff_notes
    assert "ACME-MUG" not in placed.staff_notes and "#1001" in placed.staff_notes
    assert created.line_refs == {"l1": str(placed.products[0].id), "l2": str(gift.id)}


@pytest.mark.asyncio
async def test_what_bigcommerce_refuses_is_permanent_and_says_why(h: Harness) -> None:
    h.store.catalog.add_product(name="Mug", sku="ACME-MUG", price="12.50", inventory=1)
    [mug] = (await h.connector().catalog_variants(["ACME-MUG"])).variants["ACME-MUG"]
    gone = mug.model_copy(update={"product_ref": "999"})
    with pytest.raises(PermanentError, match="product_id"):
        await h.connector().create_order(_order(SellerLine(line_ref="l1", sku="ACME-MUG", quantity=1, variant=gone)))
    with pytest.raises(PermanentError, match="stock"):
        await h.connector().create_order(_order(SellerLine(line_ref="l1", sku="ACME-MUG", quantity=2, variant=mug)))
    assert h.store.orders == {} and h.store.catalog.find_sku("ACME-MUG")[1].inventory_level == 1


@pytest.mark.asyncio
async def test_an_order_priced_in_another_currency_is_refused_before_anything_is_written(h: Harness) -> None:
    line = SellerLine(line_ref="l1", sku="ACME-1", quantity=1)
    with pytest.raises(PermanentError, match=r"USD.*EUR"):
        await h.connector().create_order(_order(line, currency="USD"))
    assert not any(r.method == "POST" for r in h.transport.sent)
    created = await h.connector().create_order(_order(line, currency="EUR"))
    assert h.store.orders[int(created.order_ref)].currency == "EUR"


# -- the plan, without a store -------------------------------------------------------------------------------


def test_the_order_body_has_catalog_and_custom_products_and_the_shipping_cost() -> None:
    variant = CatalogVariant(sku="A", product_ref="77", variant_ref="5", price=Decimal("3"))
    body = plan.order_body(_order(SellerLine(line_ref="l1", sku="A", quantity=2, variant=variant,
                                             unit_price=Decimal("2.5")),
                                  SellerLine(line_ref="l2", sku="B", quantity=1, unit_price=Decimal("0.1234"))))
    assert body["products"] == [
        {"product_id": 77, "variant_id": 5, "quantity": 2, "price_inc_tax": 2.5, "price_ex_tax": 2.5},
        {"name": "B", "sku": "B", "quantity": 1, "price_inc_tax": 0.1234, "price_ex_tax": 0.1234}]
    assert (body["shipping_cost_inc_tax"], body["shipping_cost_ex_tax"]) == ("4.9000", "4.9000")
    assert body["staff_notes"].splitlines()[1].endswith(f"{plan.UNLINKED_FLAG}: B")
    with pytest.raises(plan.PlanError, match="not a BigCommerce product"):
        plan.order_body(_order(SellerLine(line_ref="l1", sku="A", quantity=1,
                                          variant=variant.model_copy(update={"variant_ref": "gid://x/1"}))))


def test_lines_map_by_sku_whatever_catalog_item_they_were_linked_to() -> None:
    variant = CatalogVariant(sku="A", product_ref="77", variant_ref="5")
    order = _order(SellerLine(line_ref="l1", sku="A", quantity=1, variant=variant))
    assert plan.map_lines(order, [{"id": 9, "product_id": 77, "variant_id": 5, "sku": "A"}]) == {"l1": "9"}
    # the variant re-made between the create and a retry that finds the order: still our line
    assert plan.map_lines(order, [{"id": 9, "product_id": 78, "variant_id": 6, "sku": "A"}]) == {"l1": "9"}
    with pytest.raises(plan.PlanError, match="edited on the platform"):
        plan.map_lines(order, [{"id": 9, "product_id": 77, "variant_id": 5, "sku": "B"}])
