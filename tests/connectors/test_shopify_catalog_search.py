"""The pure part of the Shopify catalog lookup: SKU search texts (quoted, escaped, batched by count and length)
and the exact filter over Shopify's loose search results (connectors/shopify/catalog.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.shopify.catalog import MAX_QUERY_CHARS, SKU_BATCH, exact_variants, search_batches
from schemas.platform import CatalogVariant


def _gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def test_skus_are_quoted_and_batched_by_count_and_length() -> None:
    ((batch, text),) = list(search_batches(["A 1", "it's", "back\\slash", "A 1", ""]))
    assert batch == ["A 1", "it's", "back\\slash"]
    assert text == "sku:'A 1' OR sku:'it\\'s' OR sku:'back\\\\slash'"
    many = list(search_batches(f"S{n}" for n in range(SKU_BATCH * 2 + 1)))
    assert [len(batch) for batch, _ in many] == [SKU_BATCH, SKU_BATCH, 1]
    long = list(search_batches(["x" * 1500, "y" * 1500, "z" * 1500]))
    assert [len(batch) for batch, _ in long] == [2, 1] and all(len(text) <= MAX_QUERY_CHARS for _, text in long)


def test_only_exact_skus_of_active_products_are_kept() -> None:
    def node(number: int, sku: str, status: str = "ACTIVE") -> dict[str, Any]:
        return {"id": _gid("ProductVariant", number), "sku": sku, "title": "Default Title", "price": "5.00",
                "inventoryQuantity": 3, "inventoryItem": {"tracked": True},
                "product": {"id": _gid("Product", number), "title": "Mug", "status": status}}

    wanted: dict[str, list[CatalogVariant]] = {"MUG": []}
    exact_variants([node(1, "MUG"), node(2, "mug"), node(3, "MUG-2"), node(4, "MUG", "ARCHIVED"),
                    node(5, "MUG", "DRAFT"), node(1, "MUG")], wanted)
    assert wanted == {"MUG": [CatalogVariant(sku="MUG", product_ref=_gid("Product", 1),
                                             variant_ref=_gid("ProductVariant", 1), title="Mug",
                                             price=Decimal("5.00"), inventory=3)]}
