"""The web app for sellers without an integration (`platform: manual`) and for buyers (read-only), issue 5.

An entry point like `fulfillsync/` (DESIGN.md §9: it may import `streams/`): `fulfillsync web` serves it, a Starlette
app beside the worker(s), answering from its own read model of the ledger's changelogs, so any web process can
serve any partner whatever worker owns an order's partition. docs/webapp.md describes it.
"""
