"""The simulated BigCommerce store's catalog: products, their options and variants, SKUs, prices and inventory.

Rules it keeps (BigCommerce's Catalog V3 documentation, `catalog-products.v3.yml`, `catalog-variants.v3.yml`):
- every product has variants: one without options has a single base variant (no option values, `sku_id` null)
  carrying the product's SKU and price; one with options has a variant per option combination, each with its
  own SKU and option values (option id -> option value id);
- a SKU belongs to at most one variant of the store: adding another is refused (409, as the Catalog API refuses
  a duplicate SKU). SKUs are compared without regard to case here, and the `sku` filters match the same way (the
  stricter case for a client, which must compare exactly itself; whether BigCommerce does is unverified);
- a variant's `price` may be null: the product's price applies (`calculated_price` shows it);
- inventory: a product without options tracks it by product (`inventory_tracking: product`), one with options by
  variant; the product's `inventory_level` is the sum of its variants'. Inventory is stored on the variants.
- an order for catalog items takes their units from inventory when it is created (a store whose stock setting is
  "when an order is placed"); asking for more units than are on hand is refused with a 400 (unverified: what
  BigCommerce answers there is not documented). Products tracking no inventory (`none`) are never short.

Methods raise `StoreError(status, message)` for what the API or the control panel refuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sandbox.bigcommerce.errors import StoreError
from sandbox.common import Ids

Tracking = Literal["none", "product", "variant"]
MAX_SKU = 255
DEFAULT_PRICE = Decimal("12.50")  # what the admin routes price a product at when no price is given
DEFAULT_INVENTORY = 100


@dataclass
class OptionValue:
    id: int
    option_id: int
    option_display_name: str
    label: str


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str
    price: Decimal | None
    inventory_level: int
    sku_id: int | None = None
    option_values: list[OptionValue] = field(default_factory=list)
    purchasing_disabled: bool = False


@dataclass
class Product:
    id: int
    name: str
    sku: str
    price: Decimal
    inventory_tracking: Tracking
    date_created: datetime
    date_modified: datetime
    availability: str = "available"
    is_visible: bool = True
    variants: list[Variant] = field(default_factory=list)
    options: dict[str, int] = field(default_factory=dict)  # option display name -> option id

    @property
    def inventory_level(self) -> int:
        return sum(variant.inventory_level for variant in self.variants)

    @property
    def base_variant_id(self) -> int | None:
        return self.variants[0].id if not self.options and self.variants else None


def money(value: object, what: str, status: int = 422) -> Decimal:
    """A price as the API takes it (number or numeric string, not negative); StoreError `status` otherwise (422 in
    the Catalog V3 API, 400 in V2)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise StoreError(status, f"The field '{what}' must be a number.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise StoreError(status, f"The field '{what}' must be a number.") from None
    if not amount.is_finite() or amount < 0:
        raise StoreError(status, f"The field '{what}' must be a number that is not negative.")
    return amount.quantize(Decimal("0.0001"))


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2_147_483_647:
        raise StoreError(422, f"The field '{what}' must be an integer from 0 to 2147483647.")
    return value


def _sku(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_SKU:
        raise StoreError(422, f"The field '{what}' must be a SKU of 1 to {MAX_SKU} characters.")
    return value


class Catalog:
    """The store's products, dated by `now` (the store's clock, in whole seconds). Ids are sequential per kind, as a
    store's demo data leaves them (products from 111)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.products: dict[int, Product] = {}
        self._id = Ids({"product": 111, "variant": 1, "option": 1, "value": 1, "sku_id": 1})

    # -- reading ---------------------------------------------------------------------------------------------

    def variants(self) -> list[tuple[Product, Variant]]:
        """Every variant with its product, by variant id."""
        pairs = [(product, variant) for product in self.products.values() for variant in product.variants]
        return sorted(pairs, key=lambda pair: pair[1].id)

    def find_sku(self, sku: str) -> tuple[Product, Variant] | None:
        """The variant holding `sku` (compared without case), with its product."""
        wanted = sku.casefold()
        return next(((p, v) for p, v in self.variants() if v.sku.casefold() == wanted), None)

    @staticmethod
    def price_of(product: Product, variant: Variant) -> Decimal:
        """What the variant sells at: its own price, else its product's."""
        return variant.price if variant.price is not None else product.price

    @staticmethod
    def tracked(product: Product) -> bool:
        return product.inventory_tracking != "none"

    # -- the merchant's changes ------------------------------------------------------------------------------

    def add_product(self, *, name: str, sku: str, price: object, inventory: object = 0,
                    variants: Sequence[Mapping[str, Any]] = (), inventory_tracking: str | None = None,
                    availability: str = "available", is_visible: bool = True) -> Product:
        """A product (what `POST /v3/catalog/products` with `variants` does). Without `variants` it is a simple
        product: one base variant with `sku` and `inventory`. Each of `variants` is `{sku, options: {name: label},
        price (optional), inventory, purchasing_disabled (optional)}`; options are made from their names and
        labels. StoreError 409 for a SKU the store has, 422 for anything malformed."""
        if not isinstance(name, str) or not name.strip():
            raise StoreError(422, "The field 'name' is required.")
        if availability not in ("available", "disabled", "preorder"):
            raise StoreError(422, "The field 'availability' must be one of available, disabled, preorder.")
        skus = [_sku(sku, "sku")] + [_sku(v.get("sku"), f"variants[{i}].sku") for i, v in enumerate(variants)]
        folded = [value.casefold() for value in skus]
        taken = [value for value in skus if self.find_sku(value) is not None]
        if taken or len(set(folded)) != len(folded):
            raise StoreError(409, f"The SKU {(taken or skus)[0]!r} is already in use; every SKU of a store "
                                  "must be unique.")
        tracking = inventory_tracking or ("variant" if variants else "product")
        if tracking not in ("none", "product", "variant"):
            raise StoreError(422, "The field 'inventory_tracking' must be one of none, product, variant.")
        now = self._now()
        product = Product(id=self._id("product"), name=name, sku=sku, price=money(price, "price"),
                          inventory_tracking=tracking,  # type: ignore[arg-type]
                          date_created=now, date_modified=now, availability=availability, is_visible=is_visible)
        if not variants:
            product.variants.append(Variant(id=self._id("variant"), product_id=product.id, sku=sku, price=None,
                                            inventory_level=_count(inventory, "inventory_level")))
        for index, spec in enumerate(variants):
            options = spec.get("options")
            if not isinstance(options, Mapping) or not options:
                raise StoreError(422, f"The field 'variants[{index}].options' is required: a variant is made of "
                                      "option values.")
            values = []
            for option_name, label in options.items():
                option_id = product.options.setdefault(str(option_name), self._id("option"))
                values.append(OptionValue(id=self._id("value"), option_id=option_id,
                                          option_display_name=str(option_name), label=str(label)))
            price = spec.get("price")
            product.variants.append(Variant(
                id=self._id("variant"), product_id=product.id, sku=spec["sku"], sku_id=self._id("sku_id"),
                price=None if price is None else money(price, f"variants[{index}].price"),
                inventory_level=_count(spec.get("inventory", 0), f"variants[{index}].inventory"),
                option_values=values, purchasing_disabled=bool(spec.get("purchasing_disabled", False))))
        self.products[product.id] = product
        return product

    def stock(self, skus: Sequence[str], *, price: object, inventory: object) -> list[Product]:
        """A simple product (named after its SKU) for each SKU no variant holds yet; the others are left alone."""
        return [self.add_product(name=f"Product {sku}", sku=sku, price=price, inventory=inventory)
                for sku in dict.fromkeys(skus) if self.find_sku(sku) is None]

    def set_inventory(self, sku: str, level: object) -> Variant:
        """Set the units on hand of the variant holding `sku`; StoreError 404 when none does."""
        found = self.find_sku(sku)
        if found is None:
            raise StoreError(404, f"No variant has SKU {sku!r}.")
        found[1].inventory_level = _count(level, "inventory_level")
        found[0].date_modified = self._now()
        return found[1]

    # -- orders ----------------------------------------------------------------------------------------------

    def resolve(self, item: Mapping[str, Any], where: str) -> tuple[Product, Variant]:
        """The catalog item an order product names: `product_id` with `variant_id`, or with `product_options`
        (`[{id: option id, value: option value id}]`) for a product with options, or alone for one without.
        StoreError 400 when the product or variant does not exist or the options do not make one of its
        variants."""
        product_id = item.get("product_id")
        product = self.products.get(product_id) if isinstance(product_id, int) else None
        if product is None:
            raise StoreError(400, f"The field '{where}.product_id' is invalid: there is no product {product_id!r}.")
        variant_id = item.get("variant_id")
        if variant_id is not None:
            variant = next((v for v in product.variants if v.id == variant_id), None)
            if variant is None:
                raise StoreError(400, f"The field '{where}.variant_id' is invalid: product {product.id} has no "
                                      f"variant {variant_id!r}.")
            return product, variant
        if not product.options:
            return product, product.variants[0]
        chosen = self._chosen_options(item.get("product_options"), where)
        for variant in product.variants:
            if {(value.option_id, value.id) for value in variant.option_values} == chosen:
                return product, variant
        raise StoreError(400, f"The field '{where}.product_options' is invalid: product {product.id} has options; "
                              "give the option values of one of its variants (or its variant_id).")

    @staticmethod
    def _chosen_options(raw: object, where: str) -> set[tuple[int, int]]:
        if not isinstance(raw, list) or not raw:
            return set()
        chosen = set()
        for index, option in enumerate(raw):
            value = option.get("value") if isinstance(option, Mapping) else None
            if not isinstance(option, Mapping) or not isinstance(option.get("id"), int) or not (
                    isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
                raise StoreError(400, f"The field '{where}.product_options[{index}]' is invalid.")
            chosen.add((option["id"], int(value)))
        return chosen

    def take(self, wanted: Sequence[tuple[Product, Variant, int]]) -> None:
        """Take the units of an order from inventory, all or none: StoreError 400 naming the first item short."""
        needed: dict[int, int] = {}
        for product, variant, quantity in wanted:
            if self.tracked(product):
                needed[variant.id] = needed.get(variant.id, 0) + quantity
        for product, variant, _ in wanted:
            if variant.id in needed and needed[variant.id] > variant.inventory_level:
                raise StoreError(400, f"The product '{product.name}' (SKU {variant.sku}) does not have enough "
                                      f"stock: {variant.inventory_level} on hand, {needed[variant.id]} ordered.")
        now = self._now()
        for product, variant, quantity in wanted:
            if self.tracked(product):
                variant.inventory_level -= quantity
                product.date_modified = now
