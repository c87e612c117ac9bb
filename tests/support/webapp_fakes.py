"""An in-memory `ReadModel` and `Publisher` for the web app's tests: orders are real ledger states (built with
`ledger.apply`), shown through the read model's own pure `order_view`; published events wait in a list until a
test lets the ledger apply them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger import OrderState, apply, new_state
from schemas.events import OrderLine, OrderPlaced, PartyRef, ShippingAddress, ShippingDetails
from schemas.factories import order_placed
from webapp.model import OrderView
from webapp.publisher import WebEvent
from webapp.readmodel import order_view

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FakePublisher:
    """`events`: what Kafka took; `attempts`: every event the app tried to send, taken or not (`fail` set)."""

    def __init__(self) -> None:
        self.events: list[WebEvent] = []
        self.attempts: list[WebEvent] = []
        self.fail = False

    def publish(self, event: WebEvent) -> None:
        self.attempts.append(event)
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.events.append(event)


class FakeReadModel:
    def __init__(self) -> None:
        self.states: dict[str, OrderState] = {}
        self.sent: dict[str, dict[str, datetime]] = {}

    def place(self, placed: OrderPlaced) -> OrderPlaced:
        result = apply(new_state(placed.order_id), placed)
        assert result.status == "applied", result.detail
        self.states[placed.order_id] = result.state
        return placed

    def ledger_applies(self, event: WebEvent) -> None:
        """What the ledger does with an event the app sent (the changelog then brings the new state)."""
        result = apply(self.states[event.order_id], event)
        assert result.status == "applied", result.detail
        self.states[event.order_id] = result.state

    def orders_of(self, connection_id: str) -> list[OrderView]:
        views = [view for order_id in self.states if (view := self.order(order_id)) is not None
                 and connection_id in (view.seller.connection, view.buyer.connection)]
        return sorted(views, key=lambda view: view.placed_at, reverse=True)

    def order(self, order_id: str) -> OrderView | None:
        state = self.states.get(order_id)
        return order_view(state, None, [], self.sent.get(order_id, {})) if state is not None else None

    def note_sent(self, order_id: str, fulfillment_id: str, at: datetime) -> None:
        self.sent.setdefault(order_id, {})[fulfillment_id] = at


def an_order(ref: str, *, seller: str = "maker", seller_partner: str = "maker-co", placed_at: datetime = T0,
             lines: tuple[tuple[str, int], ...] = (("MUG-RED", 3), ("TEA-1", 1))) -> OrderPlaced:
    """`order.placed` of buyer order `ref` of connection `shop`, routed to manual seller `seller`."""
    placed = order_placed(
        buyer=PartyRef(partner="retail", connection="shop", platform="shopify", order_ref=ref),
        seller=PartyRef(partner=seller_partner, connection=seller, platform="manual"),
        lines=[OrderLine(line_id=f"{ref}-{index}", sku=sku, quantity=units, title=f"A {sku.lower()}")
               for index, (sku, units) in enumerate(lines)],
        occurred_at=placed_at)
    return placed.model_copy(update={"shipping": ShippingDetails(
        address=ShippingAddress(name="Ada Lovelace", lines=["12 Analytical Row"], city="London",
                                postal_code="N1 9GU", country_code="GB"),
        buyer_order_number=f"#{ref}")})


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)
