"""Runnable examples for services that use fulfillsync's topics (docs/consumers.md)."""
