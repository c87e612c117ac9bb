"""`seller_events` cleans tracking per fulfillment: blank numbers dropped, over-long ones refused, only http(s)
URLs passed on, and one bad fulfillment never costs another its event (unit and hypothesis property tests)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.fulfillment_sync import MAX_TRACKING_NUMBER, seller_events
from schemas.events import FulfillmentRecorded, is_tracking_url
from schemas.platform import PlatformFulfillment
from tests.ledger.test_fulfillment_sync import ORDER, SELLER_CONNECTION, ful

GOOD = ful("F-good", numbers=("1Z999AA10123456784",), urls=("https://www.ups.com/track?tracknum=1Z999",))


def recorded_by_ref(found: list[PlatformFulfillment]) -> dict[str, FulfillmentRecorded]:
    result = seller_events(ORDER, SELLER_CONNECTION, found, {})
    return {event.fulfillment_id: event for event in result.events if isinstance(event, FulfillmentRecorded)}


def test_numbers_are_stripped_and_blank_ones_dropped_with_their_url() -> None:
    event = recorded_by_ref([ful(numbers=(" ", " 1Z1 ", ""), urls=("https://a.example/x", None, None))])["F1"]
    assert event.tracking_numbers == ["1Z1"]
    assert event.tracking_urls == ["https://www.ups.com/track?tracknum=1Z1"]  # built: 1Z1 came without a URL


def test_a_number_longer_than_the_bound_refuses_only_its_fulfillment() -> None:
    long = ful("F-long", numbers=("X" * (MAX_TRACKING_NUMBER + 1),))
    exact = ful("F-exact", numbers=("Y" * MAX_TRACKING_NUMBER,))
    result = seller_events(ORDER, SELLER_CONNECTION, [long, exact, GOOD], {})
    assert sorted(event.fulfillment_id for event in result.events) == ["F-exact", "F-good"]
    assert [(p.fulfillment_ref, p.reason) for p in result.problems] == [("F-long", "invalid_tracking")]
    assert "X" * 21 not in result.problems[0].message


def test_a_600_character_number_does_not_drop_the_orders_other_fulfillments() -> None:
    result = seller_events(ORDER, SELLER_CONNECTION, [ful("F-600", numbers=("9" * 600,)), GOOD], {})
    assert [event.fulfillment_id for event in result.events] == ["F-good"]
    assert [p.reason for p in result.problems] == ["invalid_tracking"]


def test_a_javascript_url_is_never_copied_and_is_reported() -> None:
    result = seller_events(ORDER, SELLER_CONNECTION, [ful(urls=("javascript:alert(document.cookie)",))], {})
    (event,) = result.events
    assert isinstance(event, FulfillmentRecorded)
    assert event.tracking_urls == ["https://www.ups.com/track?tracknum=1Z1"]  # the carrier's own URL instead
    assert [p.reason for p in result.problems] == ["unsafe_tracking_url"]
    assert "alert" not in result.problems[0].message and "'javascript'" in result.problems[0].message


def test_an_unsafe_url_beyond_the_numbers_is_left_out() -> None:
    event = recorded_by_ref([ful(urls=("https://ok.example/1", "data:text/html,x"))])["F1"]
    assert event.tracking_urls == ["https://ok.example/1"]


def test_a_fulfillment_the_event_model_refuses_is_a_problem_not_an_exception() -> None:
    too_long_ref = ful("R" * 600)
    result = seller_events(ORDER, SELLER_CONNECTION, [too_long_ref, GOOD], {})
    assert [event.fulfillment_id for event in result.events] == ["F-good"]
    assert [p.reason for p in result.problems] == ["invalid_fulfillment"]
    cancelled = seller_events(ORDER, SELLER_CONNECTION, [ful("R" * 600, cancelled=True, lines=()), GOOD], {})
    assert [event.fulfillment_id for event in cancelled.events] == ["F-good"]


# -- properties ----------------------------------------------------------------------------------------------

_URLS = st.one_of(
    st.none(), st.text(max_size=40),
    st.sampled_from(["https://t.example/1", "HTTP://t.example/2", "javascript:alert(1)", "data:text/html,x",
                     "file:///etc/passwd", "//t.example/3", "https://", "https://a b", " https://t.example/4 ",
                     "vbscript:x", "https://t.example/\n"]),
    st.builds(lambda scheme, rest: f"{scheme}:{rest}", st.text(min_size=1, max_size=10), st.text(max_size=20)))
_NUMBERS = st.one_of(st.text(max_size=70), st.sampled_from(["", " ", "\t", "1Z999AA10123456784",
                                                            " 1Z1 ", "X" * 600, "Y" * MAX_TRACKING_NUMBER]))
_FULFILLMENT = st.builds(
    lambda index, numbers, urls, carrier: ful(f"F{index}", numbers=numbers, urls=urls, carrier=carrier),
    st.integers(0, 5), st.lists(_NUMBERS, max_size=4).map(tuple), st.lists(_URLS, max_size=5).map(tuple),
    st.sampled_from([None, "UPS", "FedEx", "Acme Freight"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_FULFILLMENT, max_size=5, unique_by=lambda f: f.fulfillment_ref))
def test_whatever_strings_come_in_every_event_validates_and_only_http_urls_survive(
        found: list[PlatformFulfillment]) -> None:
    result = seller_events(ORDER, SELLER_CONNECTION, found, {})
    for event in result.events:
        assert type(event).model_validate(event.model_dump()) == event
        if isinstance(event, FulfillmentRecorded):
            assert all(number == number.strip() and number and len(number) <= MAX_TRACKING_NUMBER
                       for number in event.tracking_numbers)
            assert all(url is None or (is_tracking_url(url) and url.lower().startswith(("http://", "https://")))
                       for url in event.tracking_urls)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FULFILLMENT, max_size=4, unique_by=lambda f: f.fulfillment_ref))
def test_one_bad_fulfillment_never_removes_anothers_event(found: list[PlatformFulfillment]) -> None:
    """Each fulfillment's event is the same whether it is read alone or with any others."""
    together = recorded_by_ref([*found, GOOD])
    assert "F-good" in together
    for item in found:
        alone = recorded_by_ref([item])
        assert together.get(item.fulfillment_ref) == alone.get(item.fulfillment_ref)
