"""The web app for sellers without an integration (`platform: manual`) and for buyers (read-only); docs/webapp.md.

An entry point like `fulfillsync/` (README.md "Layout": it may import `streams/`): `fulfillsync web` serves it, a
Starlette app beside the worker(s), answering from its own read model of the ledger's changelogs, so any web process can
serve any partner whatever worker owns an order's partition. docs/webapp.md describes it.
"""
