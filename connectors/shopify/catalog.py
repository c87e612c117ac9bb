"""The seller's catalog by SKU, the pure part: the `productVariants` search texts for a list of SKUs, and the
variants of an answer that are exactly a SKU asked for and sellable. No I/O (the connector pages and throttles).

Shopify's `sku:` search is not exact (it ignores case and matches tokens and prefixes of SKUs), so a search only
narrows: `exact_variants` keeps a variant only when its `sku` equals the asked SKU character for character and
its product is ACTIVE (ARCHIVED and DRAFT products are not sellable).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from connectors.payload import PayloadError, json_money, json_object
from schemas.platform import CatalogVariant

SKU_BATCH = 25
"""SKUs per search (joined with OR): each answer page holds `operations.VARIANT_PAGE_SIZE` variants, and most
SKUs match one variant, so a batch usually takes one request."""
MAX_QUERY_CHARS = 4000
"""A batch also stops before its search text passes this length (SKUs can be long)."""
DEFAULT_VARIANT_TITLE = "Default Title"


def quoted(value: str) -> str:
    """`value` as a single-quoted search value (backslash and quote escaped), as Shopify's search syntax reads it."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def search_batches(skus: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """(SKUs, search text) per request: `sku:'A' OR sku:'B' …`, at most `SKU_BATCH` SKUs and, unless one SKU alone
    is longer, `MAX_QUERY_CHARS` characters each. Duplicate and empty SKUs are left out."""
    batch: list[str] = []
    terms: list[str] = []
    length = 0
    for sku in dict.fromkeys(sku for sku in skus if sku):
        term = f"sku:{quoted(sku)}"
        if batch and (len(batch) >= SKU_BATCH or length + len(term) + 4 > MAX_QUERY_CHARS):
            yield batch, " OR ".join(terms)
            batch, terms, length = [], [], 0
        batch.append(sku)
        terms.append(term)
        length += len(term) + 4
    if batch:
        yield batch, " OR ".join(terms)


def exact_variants(nodes: Sequence[Any], wanted: Mapping[str, list[CatalogVariant]],
                   where: str = "productVariants.nodes") -> None:
    """Append to `wanted[sku]` (in place) each node that is a sellable variant with exactly that SKU, once per
    variant ref. Raises PayloadError (a ShapeError) naming the part of a node that is not the documented shape."""
    for index, value in enumerate(nodes):
        node = json_object(value, f"{where}[{index}]")
        sku = node.get("sku")
        if not isinstance(sku, str) or sku not in wanted:
            continue
        product = json_object(node.get("product"), f"{where}[{index}].product")
        if product.get("status") != "ACTIVE":
            continue
        variant = catalog_variant(node, product, f"{where}[{index}]")
        if all(known.variant_ref != variant.variant_ref for known in wanted[sku]):
            wanted[sku].append(variant)


def catalog_variant(node: Mapping[str, Any], product: Mapping[str, Any], where: str) -> CatalogVariant:
    """A `ProductVariant` node (`id sku title price inventoryQuantity inventoryItem { tracked } product { id
    title status }`) as a CatalogVariant: the title is the product's, then the variant's unless it is Shopify's
    "Default Title"; inventory only when Shopify tracks it. Raises PayloadError."""
    variant_ref, product_ref = node.get("id"), product.get("id")
    if not isinstance(variant_ref, str) or not isinstance(product_ref, str):
        raise PayloadError(f"{where}.id or {where}.product.id is not a string")
    product_title = product.get("title") if isinstance(product.get("title"), str) else None
    variant_title = node.get("title") if isinstance(node.get("title"), str) else None
    title = product_title
    if variant_title and variant_title != DEFAULT_VARIANT_TITLE:
        title = f"{product_title} - {variant_title}" if product_title else variant_title
    tracked = node.get("inventoryItem", {}).get("tracked") if isinstance(node.get("inventoryItem"), dict) else None
    quantity = node.get("inventoryQuantity")
    inventory = quantity if tracked is not False and isinstance(quantity, int) and not isinstance(quantity,
                                                                                                  bool) else None
    try:
        return CatalogVariant(sku=str(node["sku"]), product_ref=product_ref, variant_ref=variant_ref, title=title,
                              price=json_money(node.get("price"), f"{where}.price"), inventory=inventory)
    except ValidationError as error:
        raise PayloadError(f"{where}: {error.errors()[0]['msg']}") from None


