"""Which fulfillment.recorded inputs the ledger accepts, and how it normalises them (README.md, "The ledger rules")."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from ledger import FulfillmentRecord
from schemas.events import FulfilledLine, FulfillmentRecorded
from tests.support.ledger_builders import Ledger, placed_ledger, recorded, rejection, sku, without_seen


def record_of(ledger: Ledger, fulfillment_id: str = "F1") -> FulfillmentRecord:
    return ledger.state.fulfillments[fulfillment_id]


# -- over-fulfillment -----------------------------------------------------------------------------------------


def test_over_fulfillment_in_one_event_is_rejected_and_state_unchanged() -> None:
    ledger = placed_ledger({"L1": 2})
    before = ledger.state
    result = ledger.feed(recorded({"L1": 3}))
    assert rejection(result).reason == "over_fulfillment"
    assert without_seen(result.state) == without_seen(before)
    assert result.state.fulfillments == {}


def test_over_fulfillment_across_events_rejects_the_later_one_whole() -> None:
    ledger = placed_ledger({"L1": 2, "L2": 2})
    assert ledger.feed(recorded({"L1": 2}, fulfillment_id="F1")).status == "applied"
    before = ledger.state
    # L2 alone would fit, L1 would not: nothing of F2 may count.
    result = ledger.feed(recorded({"L1": 1, "L2": 1}, fulfillment_id="F2"))
    assert rejection(result).reason == "over_fulfillment"
    assert without_seen(result.state) == without_seen(before)
    assert result.state.active_units() == {"L1": 2}


def test_repeated_line_in_one_fulfillment_is_summed_for_the_over_fulfillment_check() -> None:
    ledger = placed_ledger({"L1": 2})
    lines = [FulfilledLine(line_id="L1", quantity=1), FulfilledLine(line_id="L1", quantity=2)]
    assert rejection(ledger.feed(recorded(lines))).reason == "over_fulfillment"


def test_fulfillment_up_to_the_ordered_quantity_is_accepted() -> None:
    ledger = placed_ledger({"L1": 2})
    result = ledger.feed(recorded({"L1": 2}))
    assert result.status == "applied"
    assert result.state.active_units() == {"L1": 2}


def test_newer_version_that_would_over_fulfill_is_rejected_and_the_old_version_keeps_counting() -> None:
    ledger = placed_ledger({"L1": 3})
    ledger.feed_all([recorded({"L1": 1}, fulfillment_id="F1"), recorded({"L1": 1}, fulfillment_id="F2")])
    result = ledger.feed(recorded({"L1": 3}, fulfillment_id="F1", version=5))
    assert rejection(result).reason == "over_fulfillment"
    assert record_of(ledger).lines[0].quantity == 1
    assert ledger.state.active_units() == {"L1": 2}


# -- lines and quantities ------------------------------------------------------------------------------------


def test_unknown_line_is_rejected() -> None:
    ledger = placed_ledger({"L1": 1})
    before = ledger.state
    result = ledger.feed(recorded({"L9": 1}))
    assert rejection(result).reason == "unknown_line"
    assert without_seen(result.state) == without_seen(before)


def test_sku_that_does_not_match_the_order_line_is_an_unknown_line() -> None:
    ledger = placed_ledger({"L1": 1})
    result = ledger.feed(recorded([FulfilledLine(line_id="L1", sku="SOMETHING-ELSE", quantity=1)]))
    assert rejection(result).reason == "unknown_line"
    assert result.state.fulfillments == {}


def test_matching_sku_is_accepted() -> None:
    ledger = placed_ledger({"L1": 1})
    assert ledger.feed(recorded([FulfilledLine(line_id="L1", sku=sku("L1"), quantity=1)])).status == "applied"


@pytest.mark.parametrize("quantity", [0, -1])
def test_non_positive_quantity_is_rejected(quantity: int) -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    before = ledger.state
    result = ledger.feed(recorded({"L1": 1, "L2": quantity}))
    assert rejection(result).reason == "invalid_quantity"
    assert without_seen(result.state) == without_seen(before)


@pytest.mark.parametrize("quantity", [1.5, "2", True])
def test_non_integer_quantity_is_refused_when_parsed(quantity: Any) -> None:
    payload = recorded({"L1": 1}).model_dump(mode="json")
    payload["lines"][0]["quantity"] = quantity
    with pytest.raises(ValidationError):
        FulfillmentRecorded.model_validate(payload)


# -- tracking numbers ----------------------------------------------------------------------------------------


def test_more_tracking_numbers_than_units_is_rejected() -> None:
    ledger = placed_ledger({"L1": 1})
    before = ledger.state
    result = ledger.feed(recorded({"L1": 1}, tracking_numbers=["T1", "T2"]))
    assert rejection(result).reason == "multi_tracking_single_unit"
    assert without_seen(result.state) == without_seen(before)


def test_more_tracking_numbers_than_units_over_several_lines_is_rejected() -> None:
    ledger = placed_ledger({"L1": 1, "L2": 1})
    result = ledger.feed(recorded({"L1": 1, "L2": 1}, tracking_numbers=["T1", "T2", "T3"]))
    assert rejection(result).reason == "multi_tracking_single_unit"


@pytest.mark.parametrize("lines", [{"L1": 2}, {"L1": 1, "L2": 1}])
def test_as_many_tracking_numbers_as_units_is_allowed(lines: dict[str, int]) -> None:
    ledger = placed_ledger({"L1": 2, "L2": 1})
    result = ledger.feed(recorded(lines, tracking_numbers=["T1", "T2"]))
    assert result.status == "applied"
    assert record_of(ledger).tracking_numbers == ["T1", "T2"]


def test_no_tracking_number_is_allowed() -> None:
    ledger = placed_ledger({"L1": 1})
    assert ledger.feed(recorded({"L1": 1})).status == "applied"
    assert record_of(ledger).tracking_numbers == []


# -- carriers and URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["ups", "UPS", " United Parcel Service ", "ups-ground"])
def test_known_carrier_is_canonical_and_gets_a_tracking_url(given: str) -> None:
    ledger = placed_ledger({"L1": 1})
    assert ledger.feed(recorded({"L1": 1}, carrier=given, tracking_numbers=["1Z999AA1"])).status == "applied"
    record = record_of(ledger)
    assert record.carrier == "UPS"
    [url] = record.tracking_urls
    assert url is not None
    assert urlsplit(url).hostname in {"ups.com", "www.ups.com"}
    assert "1Z999AA1" in url


def test_unknown_carrier_is_kept_as_given_without_url() -> None:
    ledger = placed_ledger({"L1": 1})
    assert ledger.feed(recorded({"L1": 1}, carrier="Acme Freight", tracking_numbers=["AF-1"])).status == "applied"
    record = record_of(ledger)
    assert record.carrier == "Acme Freight"
    assert record.tracking_urls == [None]


def test_unknown_carrier_keeps_a_given_url() -> None:
    ledger = placed_ledger({"L1": 1})
    ledger.feed(recorded({"L1": 1}, carrier="Acme Freight", tracking_numbers=["AF-1"],
                         tracking_urls=["https://acme.example/AF-1"]))
    assert record_of(ledger).tracking_urls == ["https://acme.example/AF-1"]


def test_urls_pair_with_numbers_by_position_and_missing_ones_are_built() -> None:
    ledger = placed_ledger({"L1": 3})
    result = ledger.feed(recorded({"L1": 3}, carrier="fedex", tracking_numbers=["111", "222", "333"],
                                  tracking_urls=["https://given.example/111", None]))
    assert result.status == "applied"
    record = record_of(ledger)
    assert record.carrier == "FedEx"
    assert record.tracking_numbers == ["111", "222", "333"]
    first, second, third = record.tracking_urls
    assert first == "https://given.example/111"
    for url, number in ((second, "222"), (third, "333")):
        assert url is not None
        assert urlsplit(url).hostname == "www.fedex.com"
        assert number in url


def test_more_urls_than_numbers_is_rejected() -> None:
    ledger = placed_ledger({"L1": 1})
    result = ledger.feed(recorded({"L1": 1}, tracking_numbers=["T1"], tracking_urls=["https://a/1", "https://a/2"]))
    assert rejection(result).reason == "invalid_payload"


@pytest.mark.parametrize("urls", [
    ["https://track.example/1Z1", "https://track.example/1Z1"],
    ["https://track.example/1Z1", "https://track.example/1Z1", "https://track.example/1Z2"],
], ids=["url-for-each-repeat", "url-for-every-number"])
def test_url_stays_with_its_own_number_when_a_number_is_repeated(urls: list[str]) -> None:
    # A repeated number is kept once, with the URL given beside its first occurrence; URLs pair by position.
    ledger = placed_ledger({"L1": 3})
    result = ledger.feed(recorded({"L1": 3}, carrier="ups", tracking_numbers=["1Z1", "1Z1", "1Z2"],
                                  tracking_urls=urls))
    assert result.status == "applied", result.detail
    record = record_of(ledger)
    assert record.tracking_numbers == ["1Z1", "1Z2"]
    paired = dict(zip(record.tracking_numbers, record.tracking_urls, strict=True))
    assert paired["1Z1"] == "https://track.example/1Z1"
    assert paired["1Z2"] is not None and "1Z2" in paired["1Z2"]


def test_whitespace_inside_a_tracking_number_is_removed() -> None:
    ledger = placed_ledger({"L1": 2})
    ledger.feed(recorded({"L1": 2}, carrier="FedEx", tracking_numbers=[" 7946 1234 5670 ", "7946\t1234 5681"]))
    record = record_of(ledger)
    assert record.tracking_numbers == ["794612345670", "794612345681"]
    assert record.tracking_urls[0] == "https://www.fedex.com/fedextrack/?trknbr=794612345670"
