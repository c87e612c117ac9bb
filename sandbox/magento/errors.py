"""Magento's REST error shape: `{"message": "… %1 … %name …", "parameters": [...] | {...}}`."""

from __future__ import annotations

from typing import Any


class MagentoError(Exception):
    """A request Magento refuses: HTTP `status` and the body Magento answers (message template + parameters)."""

    def __init__(self, status: int, message: str, parameters: list[Any] | dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.parameters is not None:
            body["parameters"] = self.parameters
        return body


def not_found() -> MagentoError:
    """What the order and shipment repositories answer for an unknown id."""
    return MagentoError(404, "The entity that was requested doesn't exist. Verify the entity and try again.")


def no_such_entity(field: str, value: object) -> MagentoError:
    """`NoSuchEntityException::singleField`."""
    return MagentoError(404, "No such entity with %fieldName = %fieldValue",
                        {"fieldName": field, "fieldValue": str(value)})


def required(field: str) -> MagentoError:
    """The web API's answer when a required input field is missing."""
    return MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": field})


def invalid_value(value: object, field: str) -> MagentoError:
    """The web API's answer when an input field has the wrong type."""
    return MagentoError(400, 'Invalid value of "%1" provided for the %2 field.', [str(value), field])


def number(value: object, field: str) -> float:
    """A numeric input field as Magento's web API takes it (a JSON number, or a numeric string) as a float;
    `invalid_value` for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid_value(value, field)
    try:
        return float(value)
    except ValueError:
        raise invalid_value(value, field) from None
