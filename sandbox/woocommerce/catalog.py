"""The simulated WooCommerce store's catalog: simple products, variable products and their variations, each with a
SKU, a price, a status and stock, kept as WooCommerce keeps them.

Behaviour that mirrors WooCommerce (docs/platforms/woocommerce.md, "Simulated store"):
- SKUs are unique across products and variations and compared without case (MySQL's default collation): a second
  item with one is refused `product_invalid_sku` "Invalid or duplicated SKU." with the `resource_id` of the item
  that has it;
- the `sku` filter of `GET /products` splits its value at commas and matches each part, plus the whole value when
  it has several parts, without case; only with a `sku` filter are variations listed beside products;
- a product's status is publish, draft, pending or private; a variation's publish, or private when disabled;
- a variation that does not manage its own stock uses its parent's ("manage stock at product level");
- stock can go below 0: orders placed through the REST API are not checked against it;
- `purchasable` is what an administrator's key sees: the item has a price (and a variation is not disabled);
  a variable product's price is its cheapest variation's.

Failure: every method raises `StoreError` like WooCommerce for bad input or unknown ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.woocommerce.errors import StoreError, invalid_param

PRODUCT_STATUSES = ("publish", "draft", "pending", "private")
VARIATION_STATUSES = ("publish", "private")

CURRENCIES: dict[str, tuple[str, str]] = {
    "USD": ("United States (US) dollar", "&#36;"), "EUR": ("Euro", "&euro;"), "GBP": ("Pound sterling", "&pound;"),
    "CAD": ("Canadian dollar", "&#36;"), "AUD": ("Australian dollar", "&#36;"),
    "NZD": ("New Zealand dollar", "&#36;"), "JPY": ("Japanese yen", "&yen;"),
    "CHF": ("Swiss franc", "&#67;&#72;&#70;"), "SEK": ("Swedish krona", "&#107;&#114;"),
    "DKK": ("Danish krone", "kr."), "NOK": ("Norwegian krone", "&#107;&#114;"),
    "PLN": ("Polish z&#x142;oty", "&#122;&#322;"), "MXN": ("Mexican peso", "&#36;"),
    "BRL": ("Brazilian real", "&#82;&#36;"), "INR": ("Indian rupee", "&#8377;"),
    "AED": ("United Arab Emirates dirham", "&#x62f;.&#x625;"), "PKR": ("Pakistani rupee", "&#8360;"),
}
"""The currencies the store knows (a subset of WooCommerce's `get_woocommerce_currencies()`): code -> (name, symbol
as WooCommerce's REST API gives it, HTML entities included)."""


@dataclass
class Product:
    """A product (`type` simple or variable) or a variation (`parent_id` set). `regular_price` is "" when the
    item has no price; `stock_quantity` counts only while `manage_stock`."""

    id: int
    sku: str
    name: str
    regular_price: str
    type: str = "simple"
    parent_id: int = 0
    status: str = "publish"
    manage_stock: bool = False
    stock_quantity: int | None = None


class Catalog:
    """The store's products and variations. `new_id` hands out WordPress post ids (shared with orders)."""

    def __init__(self, new_id: Callable[[], int]) -> None:
        self.products: dict[int, Product] = {}
        self._new_id = new_id

    # -- the merchant's edits ------------------------------------------------------------------------------

    def add(self, sku: str, name: str | None = None, price: str = "10.00", parent_sku: str | None = None,
            status: str = "publish", stock_quantity: int | None = None, manage_stock: bool | None = None
            ) -> Product:
        """A simple product, or a variation of the product with SKU `parent_sku` (which becomes variable).
        `manage_stock` defaults to whether `stock_quantity` is given."""
        sku = sku.strip()
        if not sku:
            raise StoreError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=0)
        taken = self.by_sku(sku)
        if taken is not None:
            raise StoreError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=taken.id)
        parent = None
        if parent_sku is not None:
            parent = self.by_sku(parent_sku)
            if parent is None or parent.parent_id:
                raise StoreError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        if status not in (VARIATION_STATUSES if parent else PRODUCT_STATUSES):
            raise invalid_param("status", f"status is not one of {', '.join(PRODUCT_STATUSES)}.")
        product = Product(self._new_id(), sku, name or sku, _price(price), "variation" if parent else "simple",
                          parent.id if parent else 0, status)
        self._set_stock(product, stock_quantity, manage_stock if manage_stock is not None
                        else stock_quantity is not None)
        if parent is not None:
            parent.type = "variable"
        self.products[product.id] = product
        return product

    def update(self, product_id: int, *, name: str | None = None, price: str | None = None,
               status: str | None = None, stock_quantity: int | None = None,
               manage_stock: bool | None = None) -> Product:
        """The merchant edits an item (the fields given); unknown ids are 404 like WooCommerce."""
        product = self.get(product_id)
        if status is not None:
            if status not in (VARIATION_STATUSES if product.parent_id else PRODUCT_STATUSES):
                raise invalid_param("status", f"status is not one of {', '.join(PRODUCT_STATUSES)}.")
            product.status = status
        if name is not None:
            product.name = name
        if price is not None:
            product.regular_price = _price(price)
        if stock_quantity is not None or manage_stock is not None:
            managed = manage_stock if manage_stock is not None else True
            self._set_stock(product, stock_quantity if stock_quantity is not None else product.stock_quantity,
                            managed)
        return product

    def delete(self, product_id: int) -> Product:
        """A permanent delete (`force=true`), variations included; orders keep their lines, without a product."""
        product = self.get(product_id)
        for child in [p for p in self.products.values() if p.parent_id == product.id]:
            del self.products[child.id]
        del self.products[product.id]
        return product

    @staticmethod
    def _set_stock(product: Product, quantity: int | None, managed: bool) -> None:
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
            raise invalid_param("stock_quantity", "stock_quantity is not of type integer.")
        product.manage_stock = managed
        product.stock_quantity = (quantity if quantity is not None else 0) if managed else None

    # -- reading -------------------------------------------------------------------------------------------

    def get(self, product_id: int) -> Product:
        product = self.products.get(product_id)
        if product is None:
            raise StoreError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return product

    def by_sku(self, sku: str) -> Product | None:
        """What `wc_get_product_id_by_sku` finds: any item with the SKU, whatever its status or case."""
        wanted = sku.strip().lower()
        return next((p for p in self.products.values() if p.sku.lower() == wanted), None) if wanted else None

    def query(self, *, sku: str | None = None, statuses: Iterable[str] = (), include: Iterable[int] = ()
              ) -> list[Product]:
        """What `GET /products` selects, newest first: `sku` as the module docstring says; `statuses` empty or
        `any` for every status; `include` restricts to those ids."""
        wanted = set(statuses)
        ids = set(include)
        if sku:
            parts = sku.split(",")
            names = {part.strip().lower() for part in parts + ([sku] if len(parts) > 1 else []) if part.strip()}
            found = [p for p in self.products.values() if p.sku.lower() in names]
        else:
            found = [p for p in self.products.values() if not p.parent_id]
        return sorted((p for p in found if (not wanted or "any" in wanted or p.status in wanted)
                       and (not ids or p.id in ids)), key=lambda p: p.id, reverse=True)

    def parent(self, product: Product) -> Product | None:
        return self.products.get(product.parent_id) if product.parent_id else None

    def stock_holder(self, product: Product) -> Product | None:
        """The item whose stock an order of `product` moves: itself, or for a variation that does not manage its
        own, its parent when the parent does; None when no stock is managed."""
        if product.manage_stock:
            return product
        parent = self.parent(product)
        return parent if parent is not None and parent.manage_stock else None

    def price(self, product: Product) -> str:
        """The `price` WooCommerce shows: a variable product's is its cheapest priced variation's."""
        if product.type != "variable":
            return product.regular_price
        prices = [Decimal(p.regular_price) for p in self.products.values()
                  if p.parent_id == product.id and p.regular_price and p.status == "publish"]
        return str(min(prices)) if prices else ""

    def purchasable(self, product: Product) -> bool:
        """`is_purchasable()` as an administrator's key sees it (module docstring)."""
        if product.parent_id and product.status == "private":
            return False
        return self.price(product) != ""


def _price(value: Any) -> str:
    """A price as WooCommerce stores it (a decimal string, or "" for none). Raises StoreError for other text."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return ""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise invalid_param("regular_price", "regular_price is not a number.") from None
    if amount < 0 or not amount.is_finite():
        raise invalid_param("regular_price", "regular_price is not a positive number.")
    return text
