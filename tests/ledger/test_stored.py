"""`ledger.stored`: the compact stored form of an order state, its size bound, exactness (times, URLs), and reading
the first stored form."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ledger import OrderState, apply, new_state, stored
from ledger.apply import input_key, record_key
from ledger.outputs import shipped_output
from ledger.state import FulfillmentRecord
from schemas.events import FulfilledLine, OrderShipped
from tests.support.ledger_builders import Ledger, cancelled, order_placed, placed_ledger, recorded


def shipped_ledger() -> Ledger:
    ledger = placed_ledger({"L1": 1, "L2": 2})
    ledger.feed(recorded({"L1": 1, "L2": 2}, fulfillment_id="F1", carrier="ups", tracking_numbers=["1Z1", "1Z2"]))
    return ledger


def test_a_shipped_order_round_trips_and_renders_the_same_shipped_event() -> None:
    state = shipped_ledger().state
    read = stored.decode(stored.encode(state))
    assert read == state
    assert shipped_output(read) == shipped_output(state)
    assert json.loads(stored.encode(state))["v"] == stored.FORM


def test_times_keep_their_offset_so_rendered_outputs_and_ids_are_the_same() -> None:
    ledger = placed_ledger({"L1": 1})
    berlin = timezone(timedelta(hours=1))
    event = recorded({"L1": 1}, fulfillment_id="F1")
    event = event.model_copy(update={"source_version": datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=berlin),
                                     "occurred_at": datetime(2026, 3, 1, 10, 5, tzinfo=berlin)})
    state = ledger.feed(event).state
    read = stored.decode(stored.encode(state))
    assert read.fulfillments["F1"].source_version.isoformat() == "2026-03-01T10:00:00.123456+01:00"
    shipped, original = shipped_output(read), shipped_output(state)
    assert shipped is not None and original is not None
    assert shipped.model_dump_json() == original.model_dump_json()


def test_urls_built_from_the_carrier_are_not_stored_and_others_are() -> None:
    ledger = placed_ledger({"L1": 3})
    ledger.feed(recorded({"L1": 3}, fulfillment_id="F1", carrier="UPS", tracking_numbers=["1ZA", "1ZB", "1ZC"],
                         tracking_urls=[None, "https://example.com/track/1ZB"]))
    text = stored.encode(ledger.state).decode()
    assert "ups.com" not in text and "https://example.com/track/1ZB" in text
    assert stored.decode(text.encode()) == ledger.state


def test_a_url_missing_where_the_carrier_could_build_one_stays_missing() -> None:
    record = FulfillmentRecord(fulfillment_id="F1", source_version=datetime(2026, 1, 1, tzinfo=UTC), digest="",
                               carrier="UPS", tracking_numbers=["1ZA"], tracking_urls=[None], lines=[])
    state = placed_ledger({"L1": 1}).state.model_copy(update={"fulfillments": {"F1": record}})
    assert stored.decode(stored.encode(state)).fulfillments["F1"].tracking_urls == [None]


def test_no_url_for_a_carrier_without_a_template_stays_none_when_a_template_comes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    record = FulfillmentRecord(fulfillment_id="F1", source_version=datetime(2026, 1, 1, tzinfo=UTC), digest="",
                               carrier="Tiny Courier", tracking_numbers=["TC1"], tracking_urls=[None], lines=[])
    state = placed_ledger({"L1": 1}).state.model_copy(update={"fulfillments": {"F1": record}})
    text = stored.encode(state)
    monkeypatch.setattr(stored, "tracking_url", lambda carrier, number: f"https://tiny.example/{number}")
    assert stored.decode(text).fulfillments["F1"].tracking_urls == [None]


def test_form_2_reads_no_url_for_a_carrier_that_had_no_template_then() -> None:
    record = FulfillmentRecord(fulfillment_id="F1", source_version=datetime(2026, 1, 1, tzinfo=UTC), digest="",
                               carrier="Purolator", tracking_numbers=["329012345678"], tracking_urls=[None],
                               lines=[])
    state = placed_ledger({"L1": 1}).state.model_copy(update={"fulfillments": {"F1": record}})
    form_3 = json.loads(stored.encode(state))
    assert form_3["v"] == 3 and stored.decode(json.dumps(form_3).encode()).fulfillments["F1"].tracking_urls == [None]
    form_2 = {**form_3, "v": 2, "f": [[*form_3["f"][0][:5], 0]]}  # form 2 wrote "built" for it
    assert stored.decode(json.dumps(form_2).encode()).fulfillments["F1"].tracking_urls == [None]
    assert state.order is not None
    assert stored.outline(json.dumps(form_2).encode()).seller_connection == state.order.seller.connection
    ups = {**form_2, "f": [["F1", form_3["f"][0][1], "UPS", ["1Z999AA10123456784"], [], 0]]}
    assert stored.decode(json.dumps(ups).encode()).fulfillments["F1"].tracking_urls[0] is not None


def test_states_sharing_records_encode_each_their_own_content() -> None:
    ledger = placed_ledger({"L1": 2})
    one = ledger.feed(recorded({"L1": 1}, fulfillment_id="F1", tracking_numbers=["T1"])).state
    two = ledger.feed(recorded({"L1": 1}, fulfillment_id="F1", version=2, tracking_numbers=["T2"])).state
    assert stored.decode(stored.encode(one)) == one
    assert stored.decode(stored.encode(two)) == two
    assert stored.decode(stored.encode(one)).fulfillments["F1"].tracking_numbers == ["T1"]


@pytest.mark.parametrize("lines", [1, 10])
def test_a_shipped_order_stays_within_2_kib_however_often_its_tracking_is_corrected(lines: int) -> None:
    placed = order_placed({f"gid://shopify/LineItem/{14000000000 + n}": 1 for n in range(lines)})
    placed = placed.model_copy(update={"lines": [line.model_copy(update={"sku": f"ACME-SKU-{n:05d}"})
                                                 for n, line in enumerate(placed.lines)]})
    ledger = Ledger()
    ledger.feed(placed)
    for n, line in enumerate(placed.lines):
        ledger.feed(recorded([FulfilledLine(line_id=line.line_id, quantity=1)], fulfillment_id=f"{8800000 + n}",
                             carrier="UPS", tracking_numbers=[f"1Z999AA1{n:010d}"]))
    assert ledger.state.is_shipped
    for c in range(1, 101):
        ledger.feed(recorded([FulfilledLine(line_id=placed.lines[-1].line_id, quantity=1)],
                             fulfillment_id=f"{8800000 + lines - 1}", version=c + 10, carrier="UPS",
                             tracking_numbers=[f"1Z999AA2{c:010d}"]))
    assert len(stored.encode(ledger.state)) <= 2048


@pytest.mark.parametrize("raw, problem", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "a JSON list"),
    (b'{"v": 99, "id": "o"}', "stored form 99"),
    (b'{"v": 2, "id": "o", "f": [["F1"]]}', "does not fit"),
    (b'{"order_id": 5}', "neither stored form"),
])
def test_values_that_are_not_a_stored_state_say_what_is_wrong(raw: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        stored.decode(raw)


# -- the first stored form -------------------------------------------------------------------------------------


def first_form(state: OrderState, seen: dict[str, Any]) -> bytes:
    value = state.model_dump(mode="json", exclude={"shipped_at", "recent", "rejected"})
    value["seen"] = seen
    return json.dumps(value).encode()


def test_the_first_stored_form_is_read_keeping_what_idempotence_needs() -> None:
    ledger = placed_ledger({"L1": 1})
    bad = recorded({"L1": 5}, fulfillment_id="F9")
    rejection = ledger.feed(bad).outputs[0]
    ship = recorded({"L1": 1}, fulfillment_id="F1")
    result = ledger.feed(ship, "fulfillment-events:0:5")
    [shipped] = result.outputs
    assert isinstance(shipped, OrderShipped)
    seen = {
        "placed-1": {"position": "order-events:0:1", "outputs": []},
        bad.event_id: {"position": "fulfillment-events:0:4", "outputs": [rejection.model_dump(mode="json")]},
        ship.event_id: {"position": "fulfillment-events:0:5", "outputs": [shipped.model_dump(mode="json")]},
    }
    read = stored.decode(first_form(result.state, seen))
    assert read.is_shipped and read.shipped_at == shipped.shipped_at
    assert read.rejected == [input_key(bad.event_id)]
    assert [entry.key for entry in read.recent] == [record_key(bad.event_id, "fulfillment-events:0:4"),
                                                    record_key(ship.event_id, "fulfillment-events:0:5")]
    again = apply(read, ship, "fulfillment-events:0:5")
    assert (again.status, again.outputs) == ("duplicate", [shipped])
    assert apply(read, bad, "fulfillment-events:0:77").status == "duplicate"


def test_an_order_not_placed_yet_in_the_first_form_keeps_its_held_inputs() -> None:
    ledger = Ledger()
    ledger.feed(recorded({"L1": 1}), "fulfillment-events:0:1")
    read = stored.decode(first_form(ledger.state, {}))
    assert read == ledger.state
    assert apply(read, order_placed({"L1": 1})).status == "applied"
    assert new_state("x") == stored.decode(stored.encode(new_state("x")))


def test_the_outline_says_what_the_state_says() -> None:
    ledger = placed_ledger({"L1": 2})
    assert stored.outline(stored.encode(new_state("x"))) == stored.Outline(None, None, None, frozenset())
    ledger.feed(recorded({"L1": 1}, fulfillment_id="F1"))
    ledger.feed(recorded({"L1": 1}, fulfillment_id="F2"))
    ledger.feed(cancelled("F1", version=5))
    placed = ledger.state.order
    assert placed is not None
    expected = stored.Outline(placed.occurred_at, placed.seller.connection, placed.buyer.connection,
                              frozenset({"F1"}))
    assert stored.outline(stored.encode(ledger.state)) == expected == stored.outline_of(ledger.state)
    assert stored.outline(first_form(ledger.state, {})) == expected
    before_k = {key: value for key, value in json.loads(stored.encode(ledger.state)).items() if key != "k"}
    assert stored.outline(json.dumps(before_k, separators=(",", ":")).encode()) == expected  # read whole
    assert stored.decode(stored.encode(ledger.state)) == stored.decode(json.dumps(before_k).encode())
    with pytest.raises(ValueError, match="not a stored order state"):
        stored.outline(b'{"v": 2, "id": "o", "o": [1]}')


def test_the_outline_is_read_from_the_first_members_alone() -> None:
    ledger = placed_ledger({"L1": 2})
    ledger.feed(recorded({"L1": 1}, fulfillment_id="F1"))
    ledger.feed(cancelled("F1", version=5))
    raw = stored.encode(ledger.state)
    text = raw.decode()
    assert text.index('"k":["F1"]') < text.index('"o":') < text.index('"f":')
    placed = ledger.state.order
    assert placed is not None
    seller_end = text.index("]", text.index(f'"{placed.seller.connection}"')) + 1
    # the lines and everything after them are not read
    assert stored.outline(f"{text[:seller_end]},!not JSON".encode()) == stored.Outline(
        placed.occurred_at, placed.seller.connection, placed.buyer.connection, frozenset({"F1"}))
    start = text.index('"o":') + len('"o":')
    for broken in (text[:seller_end - 1], text[:start] + '["e", "at"', text.replace('"k":["F1"]', '"k":[F1]'),
                   '{"v":3,"id":"x","k":[],"o":["e","2026-01-01T00:00:00Z",{"a":1},{"a":1},[]]}'):
        with pytest.raises(ValueError, match="not a stored order state"):
            stored.outline(broken.encode())
