"""Simulated BigCommerce store (V2 orders and shipments, the Catalog V3 reads, store information):
`app.create_app`, the state in `store` and `catalog`."""
