"""The simulated Magento store's catalog: products and their legacy stock items (plain Python, no HTTP).

What it models, as Magento 2.4 does:
- products of type `simple` (or `virtual`) with a `price` in the store's base currency, `status` 1 (enabled) or 2,
  and `configurable` parents whose children are simple products with their own SKUs, prices and stock; SKUs
  are unique, compared as MySQL compares them (case-insensitively, trailing spaces ignored);
- `GET /V1/products` with searchCriteria (`sandbox.magento.search`, strings compared case-insensitively as by the
  database); the list leaves `extension_attributes.stock_item` out, as Magento 2.3+ does (magento/magento2#36533);
- legacy stock items (`cataloginventory_stock_item`): `GET /V1/stockItems/{sku}` and
  `PUT /V1/products/{sku}/stockItems/{itemId}`, which merges the fields sent into the product's stock item
  (`itemId` is ignored, as by `StockRegistry::updateStockItemBySku`) and takes the item out of stock when a
  managed quantity reaches `min_qty` without backorders, back in when it rises again (`StockItemRepository::save`).
  `low_stock_date` is null as Magento answers it (the schema says string);
- a storefront sale (`sell`) takes units off the stock item at once, as the legacy inventory does when an order
  is placed; `POST /V1/orders` and shipments move no stock (MSI's deduction at shipment is not modelled).

Failure: `MagentoError` with Magento's status and message (unknown SKU: 404 `The Product with the "%1" SKU doesn't
exist.`); a second product with a SKU in use: 400 (an admin action; Magento's admin renames the new SKU instead).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.magento.errors import MagentoError, invalid_value, number, required
from sandbox.magento.search import SearchCriteria, search

SELLABLE_ALONE = frozenset({"simple", "virtual"})


@dataclass
class StockItem:
    item_id: int
    product_id: int
    qty: float
    is_in_stock: bool = True
    manage_stock: bool = True
    backorders: int = 0
    min_qty: float = 0.0
    notify_stock_qty: float = 1.0
    stock_status_changed_auto: int = 0

    def to_json(self) -> dict[str, Any]:
        """Every field `catalog-inventory-data-stock-item-interface` requires (config-driven ones at defaults)."""
        return {
            "item_id": self.item_id, "product_id": self.product_id, "stock_id": 1, "qty": self.qty,
            "is_in_stock": self.is_in_stock, "is_qty_decimal": False, "show_default_notification_message": False,
            "use_config_min_qty": True, "min_qty": self.min_qty, "use_config_min_sale_qty": 1, "min_sale_qty": 1,
            "use_config_max_sale_qty": True, "max_sale_qty": 10000, "use_config_backorders": True,
            "backorders": self.backorders, "use_config_notify_stock_qty": True,
            "notify_stock_qty": self.notify_stock_qty, "use_config_qty_increments": True, "qty_increments": 0,
            "use_config_enable_qty_inc": True, "enable_qty_increments": False, "use_config_manage_stock": True,
            "manage_stock": self.manage_stock, "low_stock_date": None, "is_decimal_divided": False,
            "stock_status_changed_auto": self.stock_status_changed_auto}

    def settle(self) -> None:
        """Magento's stock status after a quantity change."""
        if not self.manage_stock:
            return
        if self.qty <= self.min_qty and self.backorders == 0:
            if self.is_in_stock:
                self.is_in_stock, self.stock_status_changed_auto = False, 1
        elif not self.is_in_stock and self.stock_status_changed_auto:
            self.is_in_stock, self.stock_status_changed_auto = True, 0


@dataclass
class Product:
    entity_id: int
    sku: str
    name: str
    price: float
    type_id: str
    created_at: str
    updated_at: str
    status: int = 1
    visibility: int = 4
    attributes: dict[str, str] = field(default_factory=dict)
    children: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A `catalog-data-product-interface` as a product list shows it (no `stock_item`)."""
        extension: dict[str, Any] = {"website_ids": [1], "category_links": []}
        if self.type_id == "configurable":
            extension["configurable_product_links"] = list(self.children)
            extension["configurable_product_options"] = [
                {"id": position + 1, "attribute_id": str(100 + position), "label": code.title(), "position": position,
                 "values": [{"value_index": 1000 + position}], "product_id": self.entity_id}
                for position, code in enumerate(sorted(self.attributes))]
        body: dict[str, Any] = {
            "id": self.entity_id, "sku": self.sku, "name": self.name, "attribute_set_id": 4, "price": self.price,
            "status": self.status, "visibility": self.visibility, "type_id": self.type_id,
            "created_at": self.created_at, "updated_at": self.updated_at, "extension_attributes": extension,
            "product_links": [], "options": [], "media_gallery_entries": [], "tier_prices": [],
            "custom_attributes": [{"attribute_code": code, "value": value}
                                  for code, value in sorted(self.attributes.items())]}
        if self.type_id != "virtual":
            body["weight"] = 1
        return body

    def row(self) -> dict[str, Any]:
        """What searchCriteria filters and sorts on: the product's fields, its attributes and `entity_id`."""
        return {**self.to_json(), **self.attributes, "entity_id": self.entity_id}


def sku_key(sku: str) -> str:
    """A SKU as MySQL's case-insensitive collation with PAD SPACE compares it."""
    return sku.rstrip(" ").casefold()


class Catalog:
    """Products and stock items, with the store's clock stamp for their times."""

    def __init__(self, stamp: Callable[[], str], next_id: Callable[[str], int]) -> None:
        self._stamp = stamp
        self._next = next_id
        self.products: dict[int, Product] = {}
        self.stock: dict[int, StockItem] = {}

    # -- merchant (admin) actions -------------------------------------------------------------------------

    def add_product(self, sku: Any, *, price: Any = 10.0, qty: Any = 100, type_id: str = "simple",
                    name: Any = None, status: int = 1, visibility: int = 4, manage_stock: bool = True,
                    attributes: Mapping[str, str] | None = None) -> Product:
        """A simple (or virtual) product with its stock item. 400 when the SKU is in use, or a field is wrong."""
        if not isinstance(sku, str) or not sku.strip():
            raise required("sku")
        if type_id not in SELLABLE_ALONE:
            raise invalid_value(type_id, "type_id")
        existing = self.by_sku(sku)
        if existing is not None:
            raise MagentoError(400, 'The SKU "%1" is already used by product %2; Magento keeps SKUs unique.',
                               [sku, str(existing.entity_id)])
        product = self._product(sku, price, type_id, name, status, visibility, attributes)
        self.stock[product.entity_id] = item = StockItem(self._next("stock_item"), product.entity_id,
                                                         number(qty, "qty"), manage_stock=manage_stock)
        item.is_in_stock = not manage_stock or item.qty > item.min_qty
        return product

    def add_configurable(self, sku: Any, children: Sequence[Mapping[str, Any]], *, name: Any = None) -> Product:
        """A configurable parent and its simple children (`{"sku", "price"?, "qty"?, "options"?: {code: value}}`),
        not visible on their own. 400 when a SKU is in use or there is no child."""
        if not isinstance(sku, str) or not sku.strip():
            raise required("sku")
        if not children:
            raise required("children")
        if self.by_sku(sku) is not None or any(self.by_sku(str(child.get("sku"))) for child in children):
            raise MagentoError(400, 'A SKU of configurable product "%1" is already in use.', [sku])
        codes = sorted({code for child in children for code in (child.get("options") or {})})
        parent = self._product(sku, 0.0, "configurable", name, 1, 4, {code: "" for code in codes})
        self.stock[parent.entity_id] = StockItem(self._next("stock_item"), parent.entity_id, 0.0)
        for child in children:
            options = {str(code): str(value) for code, value in (child.get("options") or {}).items()}
            made = self.add_product(child.get("sku"), price=child.get("price", 10.0), qty=child.get("qty", 100),
                                    name=child.get("name") or f"{parent.name} {' '.join(options.values())}".strip(),
                                    visibility=1, attributes=options)
            parent.children.append(made.entity_id)
        return parent

    def set_quantity(self, sku: str, qty: Any) -> StockItem:
        """The merchant counts the stock of `sku` again (or a sale elsewhere took units)."""
        item = self.stock_item(sku)
        item.qty = number(qty, "qty")
        item.settle()
        return item

    def sell(self, product_id: int, qty: float) -> None:
        """A storefront order placed: the legacy inventory takes the units off at once (managed stock only)."""
        item = self.stock.get(product_id)
        if item is not None and item.manage_stock:
            item.qty -= qty
            item.settle()

    # -- API ------------------------------------------------------------------------------------------------

    def by_sku(self, sku: str) -> Product | None:
        key = sku_key(sku)
        return next((p for p in self.products.values() if sku_key(p.sku) == key), None)

    def product(self, product_id: int) -> Product | None:
        return self.products.get(product_id)

    def search(self, criteria: SearchCriteria, *, repeat_last_page: bool) -> dict[str, Any]:
        """`GET /V1/products`: the matching products' list view, and the total."""
        rows = [product.row() for product in self.products.values()]
        page, total = search(rows, criteria, repeat_last_page=repeat_last_page, fold_case=True)
        items = [self.products[int(row["entity_id"])].to_json() for row in page]
        return {"items": items, "search_criteria": criteria.echo(), "total_count": total}

    def stock_item(self, sku: str) -> StockItem:
        """`GET /V1/stockItems/{sku}`; 404 for an unknown SKU (`StockRegistry::resolveProductId`)."""
        product = self.by_sku(sku)
        if product is None:
            raise MagentoError(404, 'The Product with the "%1" SKU doesn\'t exist.', [sku])
        return self.stock[product.entity_id]

    def update_stock_item(self, sku: str, body: Any) -> int:
        """`PUT /V1/products/{sku}/stockItems/{itemId}`: merge the fields sent, settle the status, answer the item
        id. 400 for a body without `stockItem` or a quantity that is not a number."""
        item = self.stock_item(sku)
        sent = body.get("stockItem") if isinstance(body, Mapping) else None
        if not isinstance(sent, Mapping):
            raise required("stockItem")
        if "qty" in sent:
            item.qty = number(sent["qty"], "qty")
        for name in ("is_in_stock", "manage_stock"):
            if isinstance(sent.get(name), bool):
                setattr(item, name, sent[name])
        if isinstance(sent.get("backorders"), int) and not isinstance(sent["backorders"], bool):
            item.backorders = sent["backorders"]
        item.settle()
        self.products[item.product_id].updated_at = self._stamp()
        return item.item_id

    def _product(self, sku: str, price: Any, type_id: str, name: Any, status: int, visibility: int,
                 attributes: Mapping[str, str] | None) -> Product:
        now = self._stamp()
        product = Product(self._next("product"), sku, str(name or sku), number(price, "price"), type_id, now, now,
                          status=status, visibility=visibility, attributes=dict(attributes or {}))
        if product.price < 0:
            raise invalid_value(price, "price")
        self.products[product.entity_id] = product
        return product
