"""The one error the simulated WooCommerce store raises, rendered as WooCommerce's REST error."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """A request the store refuses: rendered as WooCommerce's `{"code", "message", "data": {"status", ...}}`."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data


def invalid_param(name: str, why: str) -> StoreError:
    """WordPress's answer to a parameter its schema refuses."""
    return StoreError(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why})
