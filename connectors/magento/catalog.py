"""The seller's Magento catalog: product search filters, products read as `CatalogVariant`s, the store currency,
and legacy stock items (pure functions, no I/O).

- A SKU is found with `GET /V1/products` filtered `sku in a,b,c` (Magento splits an `in` value on commas, so a SKU
  holding a comma is asked with its own `eq` filter in the same, OR'ed, group). MySQL compares SKUs without case
  and trailing spaces, so the answer is matched again here exactly, case-sensitively.
- An order line can be a product of type `simple` or `virtual` (a configurable parent is not: its child simple
  products carry the SKUs an order ships; bundle, grouped and gift-card products need options we do not have),
  enabled (`status` 1). Anything else is left out, as not sellable.
- `CatalogVariant.variant_ref` and `product_ref` are both the product's `id` (a configurable child is a product of
  its own); `options` holds `("type_id", "simple"|"virtual")`, the `product_type` the order item needs; `price` is
  the product's `price` in the store's base currency (special and tier prices are not applied); `inventory` is
  `extension_attributes.stock_item.qty` when the answer has it and stock is managed. Magento 2.3+ leaves
  `stock_item` out of product lists (magento/magento2#36533), so it is mostly None there.
- Currency: `GET /V1/directory/currency` `base_currency_code`, the currency catalog prices and order base amounts
  are kept in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from connectors.magento.payloads import Filter
from connectors.payload import PayloadError, json_money
from schemas.platform import CatalogVariant

ORDERABLE_TYPES = ("simple", "virtual")
"""Product types a dropship order line can be (`type_id`)."""
ENABLED = 1
SKU_BATCH = 50
"""SKUs asked per product search: keeps the URL short (a few kB) and an answer within one page."""


def sku_batches(skus: Sequence[str]) -> list[list[str]]:
    """The distinct, non-empty SKUs in batches of `SKU_BATCH`, in the order given."""
    unique = list(dict.fromkeys(sku for sku in skus if sku))
    return [unique[start:start + SKU_BATCH] for start in range(0, len(unique), SKU_BATCH)]


def sku_filters(skus: Sequence[str]) -> list[Filter]:
    """One searchCriteria group (filters OR'ed) finding every SKU of `skus`: `sku in` for those without a comma,
    `sku eq` for each with one (Magento would split it)."""
    plain = [sku for sku in skus if "," not in sku]
    filters = [Filter("sku", ",".join(plain), "in")] if plain else []
    return filters + [Filter("sku", sku, "eq") for sku in skus if "," in sku]


def parse_product(payload: Mapping[str, Any], where: str) -> CatalogVariant | None:
    """A `catalog-data-product-interface` as a CatalogVariant, or None when it cannot be an order line (disabled,
    or of another type). Raises PayloadError for a product without an id or SKU, or with an unreadable price."""
    sku = payload.get("sku")
    product_id = payload.get("id")
    if not isinstance(sku, str) or not sku:
        raise PayloadError(f"{where}: no sku")
    if isinstance(product_id, bool) or not isinstance(product_id, int | str) or not str(product_id).isdigit():
        raise PayloadError(f"{where}: expected an integer id, got {product_id!r}")
    type_id = payload.get("type_id")
    if type_id not in ORDERABLE_TYPES or _integer(payload.get("status")) != ENABLED:
        return None
    name = payload.get("name")
    try:
        return CatalogVariant(sku=sku, product_ref=str(product_id), variant_ref=str(product_id),
                              title=name.strip() or None if isinstance(name, str) else None,
                              price=_price(payload.get("price"), f"{where}.price"), options=(("type_id", type_id),),
                              inventory=_inventory(payload.get("extension_attributes")))
    except ValidationError as error:  # a price beyond Money's digits
        raise PayloadError(f"{where}: {error.errors()[0]['msg']}") from None


def parse_currency(payload: Any) -> str:
    """`base_currency_code` of a `directory-data-currency-information-interface`. Raises PayloadError."""
    code = payload.get("base_currency_code") if isinstance(payload, Mapping) else None
    if not isinstance(code, str) or len(code.strip()) != 3:
        raise PayloadError(f"currency information: base_currency_code {code!r} is not an ISO 4217 code")
    return code.strip().upper()


def stock_quantity(payload: Any, sku: str) -> tuple[int, bool]:
    """(`qty` as whole units, `manage_stock`) of a `catalog-inventory-data-stock-item-interface`. Raises
    PayloadError for a body that is not one, or a decimal quantity."""
    if not isinstance(payload, Mapping):
        raise PayloadError(f"stock item of {sku!r}: expected an object, got {type(payload).__name__}")
    qty = payload.get("qty")
    try:
        number = Decimal(str(0 if qty is None else qty))
    except InvalidOperation:
        raise PayloadError(f"stock item of {sku!r}: qty {qty!r} is not a number") from None
    if isinstance(qty, bool) or number != number.to_integral_value():
        raise PayloadError(f"stock item of {sku!r}: qty {qty!r} is not a whole number of units")
    return int(number), payload.get("manage_stock") is not False


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def _price(value: Any, where: str) -> Decimal | None:
    """A catalog price (`json_money`), to Magento's 4 decimals."""
    price = json_money(value, where)
    return None if price is None else price.quantize(Decimal("0.0001"))


def _inventory(extension: Any) -> int | None:
    stock = extension.get("stock_item") if isinstance(extension, Mapping) else None
    if not isinstance(stock, Mapping) or stock.get("manage_stock") is False:
        return None
    try:
        qty = Decimal(str(stock.get("qty")))
    except InvalidOperation:
        return None
    return int(qty) if qty.is_finite() and qty == qty.to_integral_value() else None
