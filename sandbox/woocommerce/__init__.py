"""A simulated WooCommerce store (wc/v3 orders, Shipment Tracking, core fulfillments); see `app.py`."""
