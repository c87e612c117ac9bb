"""Simulated Magento 2 / Adobe Commerce store: REST `/rest/{store_code}/V1/…` with a Bearer token.

`store.py` holds the state (orders, items, shipments, tracks, comments) and the merchant's admin actions;
`search.py` implements `searchCriteria`; `app.py` serves the REST paths and the `/_sandbox/magento/…` admin routes.
It imports nothing from `connectors/`: it is an independent implementation of the platform's API.
"""
