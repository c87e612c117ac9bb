"""`connectors.payload.json_money`: the one reading of a platform's price, which every catalog connector rounds
its own way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.payload import MONEY_LIMIT, PayloadError, json_money


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (0, Decimal(0)), (12.5, Decimal("12.5")), ("7.12345", Decimal("7.12345")),
    ("9999999999.9999", Decimal("9999999999.9999"))])
def test_a_price_is_read_as_given(value: object, expected: Decimal | None) -> None:
    assert json_money(value, "p") == expected


@pytest.mark.parametrize("value", [-1, "-0.01", "NaN", "Infinity", "", "abc", True, [1], MONEY_LIMIT, 1e12])
def test_anything_else_is_refused_naming_where_and_what(value: object) -> None:
    with pytest.raises(PayloadError, match=r"^variants\[3\]\.price: .* is not a price"):
        json_money(value, "variants[3].price")
