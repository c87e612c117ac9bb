"""Deterministic identifiers: the same input always yields the same id, on every worker and every replay."""

from __future__ import annotations

import uuid

# Fixed namespaces; changing either would change every id already published.
ORDER_NAMESPACE = uuid.UUID("6f1c2a8e-5b7d-4e38-9a41-2d0b7c9e4f10")
EVENT_NAMESPACE = uuid.UUID("a3d95b62-0f4e-4c1a-8b77-5e2c1d9f3a84")
_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in platform references


def order_id(buyer_connection: str, buyer_order_ref: str, seller_connection: str,
             address_ref: str | None = None) -> str:
    """The id of the stored order that one seller ships for one buyer order. `address_ref`: for a buyer order
    whose lines ship to several addresses, the address this stored order ships to (each address is a stored order
    of its own); None for an order with one address, whose id is the same as before addresses were known."""
    parts = [buyer_connection, buyer_order_ref, seller_connection]
    if address_ref is not None:
        parts.append(f"address:{address_ref}")
    return str(uuid.uuid5(ORDER_NAMESPACE, _SEPARATOR.join(parts)))


def event_id(kind: str, *parts: str) -> str:
    """The id of an event of type `kind` identified by `parts` (order id, fulfillment id, version, ...)."""
    return str(uuid.uuid5(EVENT_NAMESPACE, _SEPARATOR.join((kind, *parts))))
