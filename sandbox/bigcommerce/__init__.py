"""Simulated BigCommerce store (V2 orders and shipments): `app.create_app`, the state in `store`."""
