"""Simulated Magento 2 / Adobe Commerce store: REST `/rest/{store_code}/V1/…`, a bearer token or OAuth 1.0a.

`store.py` holds the state (orders, items, shipments, tracks, comments) and the merchant's admin actions;
`catalog.py` the products and their stock items; `search.py` implements `searchCriteria`; `oauth.py` checks
OAuth 1.0a signatures as Magento does; `app.py` serves the REST paths and the `/_sandbox/magento/…` admin routes.
It imports nothing from `connectors/`: it is an independent implementation of the platform's API.
"""
