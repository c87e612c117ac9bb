"""Shopify over the GraphQL Admin API: `ShopifyConnector` (buyer and seller side). Decisions: `connector.py`."""

from connectors.shopify.connector import ShopifyConnector

__all__ = ["ShopifyConnector"]
