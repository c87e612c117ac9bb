"""The simulated Shopify store's catalog: products, their variants, prices and inventory, as plain Python.

What the merchant (admin routes) and the API layer (`sandbox.shopify.resolvers`) read and change; orders
(`sandbox.shopify.store`) claim and give back inventory through `claim` / `restock`. Ids are numeric (the
GID's tail) and come from the store's counter.

Behaviour copied from the real platform:
- a product has a status (`ACTIVE`, `ARCHIVED`, `DRAFT`) and one or more variants; a variant has a SKU (optional,
  and NOT unique: Shopify lets two variants share one), a price in the shop's currency, an inventory policy
  (`DENY` by default: do not sell when out of stock; `CONTINUE`) and `inventoryQuantity`, summed over the shop's
  one location here;
- inventory is tracked for every variant (the sandbox has no untracked items);
- an order claims inventory only when `orderCreate` asks for it (`options.inventoryBehaviour`: `BYPASS`, the
  default, claims nothing; `DECREMENT_IGNORING_POLICY` claims even below zero; `DECREMENT_OBEYING_POLICY` refuses
  a `DENY` variant without enough units, `INVENTORY_CLAIM_FAILED`); cancelling with restock, or an edit removing
  units with restock, gives units back.

Failure: `CatalogError` (with a field path and code, like the store's `StoreError`) for a refused change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

PRODUCT_STATUSES = frozenset({"ACTIVE", "ARCHIVED", "DRAFT"})
INVENTORY_POLICIES = frozenset({"DENY", "CONTINUE"})
INVENTORY_BEHAVIOURS = frozenset({"BYPASS", "DECREMENT_IGNORING_POLICY", "DECREMENT_OBEYING_POLICY"})
DEFAULT_VARIANT_TITLE = "Default Title"


class CatalogError(Exception):
    """A catalog change the shop refuses; `field` is the input path, `code` Shopify's error code."""

    def __init__(self, message: str, field: list[str] | None = None, code: str = "INVALID") -> None:
        super().__init__(message)
        self.message = message
        self.field = field or []
        self.code = code


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str | None
    title: str
    price: Decimal
    inventory_quantity: int
    inventory_policy: str = "DENY"
    position: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Product:
    id: int
    title: str
    status: str
    variants: list[Variant]
    created_at: datetime
    updated_at: datetime

    def display_name(self, variant: Variant) -> str:
        """`ProductVariant.displayName`: the product's title, then the variant's unless it is the default one."""
        return self.title if variant.title == DEFAULT_VARIANT_TITLE else f"{self.title} - {variant.title}"


@dataclass(frozen=True)
class NewVariant:
    sku: str | None
    price: Decimal
    inventory: int = 0
    title: str = DEFAULT_VARIANT_TITLE
    inventory_policy: str = "DENY"


@dataclass
class Catalog:
    """One shop's products. `ids` is the store's id counter, `now` its clock (whole seconds)."""

    ids: Iterator[int]
    now: Callable[[], datetime]
    products: dict[int, Product] = field(default_factory=dict)

    def add_product(self, title: str, variants: list[NewVariant], status: str = "ACTIVE") -> Product:
        """A new product with `variants` (at least one). Raises CatalogError for an unknown status or policy, a
        blank title, a negative price or no variant."""
        if not title.strip():
            raise CatalogError("Title can't be blank", ["title"], "BLANK")
        if status not in PRODUCT_STATUSES:
            raise CatalogError(f"Status {status!r} is not one of {sorted(PRODUCT_STATUSES)}", ["status"])
        if not variants:
            raise CatalogError("A product needs at least one variant", ["variants"])
        now = self.now()
        product = Product(id=next(self.ids), title=title, status=status, variants=[], created_at=now, updated_at=now)
        for index, new in enumerate(variants):
            if new.price < 0:
                raise CatalogError("Price must be greater than or equal to 0", ["variants", str(index), "price"],
                                   "GREATER_THAN_OR_EQUAL_TO")
            if new.inventory_policy not in INVENTORY_POLICIES:
                raise CatalogError(f"Inventory policy {new.inventory_policy!r} is not valid",
                                   ["variants", str(index), "inventoryPolicy"])
            product.variants.append(Variant(
                id=next(self.ids), product_id=product.id, sku=new.sku or None, title=new.title, price=new.price,
                inventory_quantity=new.inventory, inventory_policy=new.inventory_policy, position=index + 1,
                created_at=now, updated_at=now))
        self.products[product.id] = product
        return product

    def set_status(self, product_id: int, status: str) -> Product:
        """Archive, draft or reactivate a product. Raises CatalogError for an unknown product or status."""
        product = self.products.get(product_id)
        if product is None:
            raise CatalogError("Product does not exist", ["id"], "PRODUCT_DOES_NOT_EXIST")
        if status not in PRODUCT_STATUSES:
            raise CatalogError(f"Status {status!r} is not one of {sorted(PRODUCT_STATUSES)}", ["status"])
        product.status, product.updated_at = status, self.now()
        return product

    def set_inventory(self, variant_id: int, quantity: int) -> Variant:
        """The merchant counts the stock: `inventoryQuantity` becomes `quantity`. Raises CatalogError for an
        unknown variant."""
        _, variant = self._existing(variant_id)
        variant.inventory_quantity, variant.updated_at = quantity, self.now()
        return variant

    def variant(self, variant_id: int) -> tuple[Product, Variant] | None:
        for product in self.products.values():
            for variant in product.variants:
                if variant.id == variant_id:
                    return product, variant
        return None

    def variants(self) -> list[tuple[Product, Variant]]:
        """Every variant with its product, by id (Shopify's default `productVariants` order)."""
        return sorted(((product, variant) for product in self.products.values() for variant in product.variants),
                      key=lambda pair: pair[1].id)

    def with_sku(self, sku: str) -> list[tuple[Product, Variant]]:
        """The variants whose SKU is exactly `sku` (the merchant's view, not the API's search)."""
        return [(product, variant) for product, variant in self.variants() if variant.sku == sku]

    def can_claim(self, variant_id: int, quantity: int, behaviour: str) -> bool:
        """Whether an order of `quantity` units may claim them under `behaviour` (only OBEYING refuses, and only
        for a `DENY` variant without enough units)."""
        found = self.variant(variant_id)
        if found is None or behaviour != "DECREMENT_OBEYING_POLICY":
            return True
        variant = found[1]
        return variant.inventory_policy == "CONTINUE" or variant.inventory_quantity >= quantity

    def claim(self, variant_id: int, quantity: int) -> None:
        """An order takes `quantity` units (the count may go below zero). Unknown variants are ignored."""
        found = self.variant(variant_id)
        if found is not None:
            found[1].inventory_quantity -= quantity
            found[1].updated_at = self.now()

    def restock(self, variant_id: int, quantity: int) -> None:
        """Units come back (a cancelled order or removed units restocked). Unknown variants are ignored."""
        self.claim(variant_id, -quantity)

    def _existing(self, variant_id: int) -> tuple[Product, Variant]:
        found = self.variant(variant_id)
        if found is None:
            raise CatalogError("Product variant does not exist", ["id"], "PRODUCT_VARIANT_DOES_NOT_EXIST")
        return found


def money(value: Any, where: list[str]) -> Decimal:
    """A decimal amount from JSON (a string or a number), never negative. Raises CatalogError otherwise."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise CatalogError(f"{value!r} is not a decimal amount", where) from None
    if not amount.is_finite() or amount < 0:
        raise CatalogError("Amount can't be negative", where)
    return amount
