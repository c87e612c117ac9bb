"""Deterministic identifiers: the same input always yields the same id, on every worker and every replay."""

from __future__ import annotations

import uuid

# Fixed namespaces; changing either would change every id already published.
ORDER_NAMESPACE = uuid.UUID("6f1c2a8e-5b7d-4e38-9a41-2d0b7c9e4f10")
EVENT_NAMESPACE = uuid.UUID("a3d95b62-0f4e-4c1a-8b77-5e2c1d9f3a84")
_SEPARATOR = "\x1f"  # ASCII unit separator: cannot occur in platform references


def order_id(buyer_connection: str, buyer_order_ref: str, seller_connection: str) -> str:
    """The id of the stored order that one seller ships for one buyer order."""
    return str(uuid.uuid5(ORDER_NAMESPACE, _SEPARATOR.join((buyer_connection, buyer_order_ref, seller_connection))))


def event_id(kind: str, *parts: str) -> str:
    """The id of an event of type `kind` identified by `parts` (order id, fulfillment id, version, ...)."""
    return str(uuid.uuid5(EVENT_NAMESPACE, _SEPARATOR.join((kind, *parts))))
