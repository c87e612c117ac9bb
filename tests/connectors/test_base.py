"""The shared part of the connector interface: fulfillments a platform no longer lists."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.base import vanished_as_cancelled
from schemas.platform import FulfillmentLine, PlatformFulfillment

SEEN = datetime(2026, 5, 1, 12, tzinfo=UTC)


def fulfillment(ref: str) -> PlatformFulfillment:
    return PlatformFulfillment(fulfillment_ref=ref, order_ref="o-1", updated_at=SEEN,
                               lines=(FulfillmentLine(line_ref="l-1", quantity=1),))


def test_a_known_fulfillment_the_platform_no_longer_lists_comes_back_cancelled() -> None:
    later = datetime(2026, 5, 2, tzinfo=UTC)
    result = vanished_as_cancelled("o-1", (fulfillment("f-2"),), ["f-1", "f-2"], later)
    assert [f.fulfillment_ref for f in result] == ["f-2", "f-1"]
    gone = result[1]
    assert gone.cancelled and gone.lines == () and gone.updated_at == later and gone.order_ref == "o-1"


def test_nothing_is_added_when_everything_known_is_still_listed() -> None:
    found = (fulfillment("f-1"),)
    assert vanished_as_cancelled("o-1", found, ["f-1"], SEEN) == found
    assert vanished_as_cancelled("o-1", found, [], SEEN) == found
