"""What the simulated BigCommerce store answers instead of doing something: `StoreError`."""

from __future__ import annotations


class StoreError(Exception):
    """What the API answers instead: an HTTP status and BigCommerce's message. The app renders it in the shape of
    the API it answers for (V2 `[{"status", "message"}]`, V3 `{"status", "title", "type"}`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
