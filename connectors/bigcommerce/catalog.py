"""BigCommerce Catalog V3 JSON -> `CatalogVariant`s, and the queries that find variants by SKU: pure functions.

What a seller's catalog holds for some SKUs (`BigCommerceConnector.catalog_variants`) is read with:
- `GET /v2/store`: `currency`, the store's default currency (what V2 orders and catalog prices are in);
- `GET /v3/catalog/variants?sku:in=A,B,...`: every variant (a simple product's base variant included) whose SKU is
  one of a batch (`SKU_BATCH` SKUs or `SKU_QUERY_CHARS` characters at most, so the URL stays short); a SKU holding
  a comma cannot go in a comma-separated list and is asked alone with `sku=`. `sku:in` is not in the saved
  `catalog-variants.v3.yml` (which lists `sku` only) but is what BigCommerce's own API specs changelog and
  integrations use; the filter may compare without case, so the answer is kept only where the SKU is exactly
  the one asked (case-sensitive, as `SellerConnector.catalog_variants` promises);
- `GET /v3/catalog/products?id:in=...&include_fields=...`: the products of the variants found (`PRODUCT_BATCH` a
  request): name, price, inventory tracking and level, availability.
Both V3 lists are read page by page (`limit=250`) while `meta.pagination` says more pages follow.

Decisions:
- price: the variant's `price`; when null, its product's `price` (the fallback BigCommerce documents for a
  variant without a price of its own); when both are missing, the variant's `calculated_price`. Sale prices are
  not used: the catalog price is the seller's list price, not a promotion;
- inventory: by the product's `inventory_tracking`: `variant` -> the variant's `inventory_level`, `product` ->
  the product's, `none` -> None (not tracked);
- not sellable, so not returned: a variant with `purchasing_disabled`, a product whose `availability` is
  `disabled`, a variant whose product is gone (the variants list can hold orphans). A product hidden from the
  storefront (`is_visible: false`) is still the seller's product (wholesale-only items often are) and is returned;
- `options`: the variant's `option_values` as (option id, option value id), what `POST /v2/orders`
  `product_options` takes; the order itself is created with `variant_id` (documented for catalog products);
- title: the product's name, with the variant's option labels in parentheses when it has any.

Every function raises `PayloadError` for a body that is not the documented shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.payload import PayloadError, json_array, json_money, json_object
from schemas.platform import CatalogLookup, CatalogVariant

SKU_BATCH = 50
SKU_QUERY_CHARS = 1500
PRODUCT_BATCH = 100
PAGE_LIMIT = 250
PRODUCT_FIELDS = "name,price,inventory_tracking,inventory_level,availability"
VARIANT_FIELDS = ("id,product_id,sku,price,calculated_price,inventory_level,purchasing_disabled,"
                  "option_values")


def sku_queries(skus: Iterable[str]) -> list[dict[str, str]]:
    """The `GET /v3/catalog/variants` filters that together ask for every SKU of `skus` (duplicates and empty
    ones dropped): `sku:in` batches, and `sku` alone for a SKU holding a comma."""
    batches: list[list[str]] = []
    single: list[dict[str, str]] = []
    size = 0
    for sku in dict.fromkeys(s for s in skus if s):
        if "," in sku:
            single.append({"sku": sku})
            continue
        if not batches or len(batches[-1]) >= SKU_BATCH or size + len(sku) + 1 > SKU_QUERY_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(sku)
        size += len(sku) + 1
    return [{"sku:in": ",".join(batch)} for batch in batches] + single


def id_batches(ids: Iterable[int]) -> list[str]:
    """`id:in` values for `GET /v3/catalog/products`, `PRODUCT_BATCH` ids each, in id order."""
    ordered = sorted(set(ids))
    return [",".join(str(i) for i in ordered[start:start + PRODUCT_BATCH])
            for start in range(0, len(ordered), PRODUCT_BATCH)]


def collection_page(body: object, where: str) -> tuple[list[Mapping[str, Any]], bool]:
    """A V3 collection body `{"data": [...], "meta": {"pagination": {...}}}`: its items, and whether a later page
    follows (`current_page < total_pages`)."""
    document = json_object(body, where)
    items = [json_object(item, f"{where}.data[{i}]") for i, item in enumerate(json_array(document.get("data"),
                                                                                        f"{where}.data"))]
    meta = document.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    if not isinstance(pagination, dict):
        raise PayloadError(f"{where}.meta.pagination: expected an object, got {pagination!r}")
    current, total = pagination.get("current_page"), pagination.get("total_pages")
    if not isinstance(current, int) or not isinstance(total, int) or isinstance(current, bool):
        raise PayloadError(f"{where}.meta.pagination: current_page and total_pages must be integers, got "
                           f"{current!r} and {total!r}")
    return items, current < total


def store_currency(body: object) -> str:
    """`GET /v2/store`'s `currency` (ISO 4217, upper case)."""
    currency = json_object(body, "store").get("currency")
    if not isinstance(currency, str) or len(currency.strip()) != 3 or not currency.strip().isalpha():
        raise PayloadError(f"store.currency: expected an ISO 4217 code, got {currency!r}")
    return currency.strip().upper()


def _id(item: Mapping[str, Any], key: str, where: str) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _money(value: object, where: str) -> Decimal | None:
    """A catalog amount (`json_money`), to BigCommerce's 4 decimals."""
    amount = json_money(value, where)
    return None if amount is None else amount.quantize(Decimal("0.0001"))


def _level(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where}: expected an integer, got {value!r}")
    return value


def products_by_id(items: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """`GET /v3/catalog/products` items by id."""
    return {_id(item, "id", f"products[{index}]"): item for index, item in enumerate(items)}


def variant_of(variant: Mapping[str, Any], product: Mapping[str, Any] | None, where: str) -> CatalogVariant | None:
    """One variant of `GET /v3/catalog/variants` with its product as a `CatalogVariant`; None when it is not
    sellable (module docstring)."""
    variant_id, product_id = _id(variant, "id", where), _id(variant, "product_id", where)
    if product is None or variant.get("purchasing_disabled") is True or product.get("availability") == "disabled":
        return None
    price = _money(variant.get("price"), f"{where}.price")
    if price is None:
        price = _money(product.get("price"), f"product {product_id}.price")
    if price is None:
        price = _money(variant.get("calculated_price"), f"{where}.calculated_price")
    tracking = product.get("inventory_tracking")
    if tracking == "none":
        inventory = None
    elif tracking == "product":
        inventory = _level(product.get("inventory_level"), f"product {product_id}.inventory_level")
    else:
        inventory = _level(variant.get("inventory_level"), f"{where}.inventory_level")
    options, labels = [], []
    for index, value in enumerate(json_array(variant.get("option_values") or [], f"{where}.option_values")):
        entry = json_object(value, f"{where}.option_values[{index}]")
        options.append((str(_id(entry, "option_id", f"{where}.option_values[{index}]")),
                        str(_id(entry, "id", f"{where}.option_values[{index}]"))))
        if isinstance(entry.get("label"), str) and entry["label"].strip():
            labels.append(entry["label"].strip())
    raw_name = product.get("name")
    name = raw_name if isinstance(raw_name, str) else ""
    title = (f"{name} ({', '.join(labels)})" if labels else name).strip() or None
    return CatalogVariant(sku=str(variant["sku"]), product_ref=str(product_id), variant_ref=str(variant_id),
                          title=title, price=price, options=tuple(options), inventory=inventory)


def lookup(skus: Iterable[str], currency: str, variants: Sequence[Mapping[str, Any]],
           products: Mapping[int, Mapping[str, Any]]) -> CatalogLookup:
    """For each SKU of `skus`, the sellable variants whose SKU is exactly it (in variant id order)."""
    wanted = list(dict.fromkeys(skus))
    found: dict[str, list[CatalogVariant]] = {sku: [] for sku in wanted}
    unique: dict[int, tuple[int, Mapping[str, Any]]] = {}  # one variant can answer two queries (`sku:in` ignores case)
    for index, variant in enumerate(variants):
        unique.setdefault(_id(variant, "id", f"variants[{index}]"), (index, variant))
    for _, (index, variant) in sorted(unique.items()):
        sku = variant.get("sku")
        if not isinstance(sku, str) or sku not in found:
            continue
        item = variant_of(variant, products.get(_id(variant, "product_id", f"variants[{index}]")),
                          f"variants[{index}]")
        if item is not None:
            found[sku].append(item)
    return CatalogLookup(currency=currency, variants={sku: tuple(items) for sku, items in found.items()})


def variant_product_id(variant: Mapping[str, Any], index: int) -> int:
    """The `product_id` of one variant found (PayloadError when it is not an integer)."""
    return _id(variant, "product_id", f"variants[{index}]")
