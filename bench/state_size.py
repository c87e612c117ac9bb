"""How large the ledger's stored state of one order is, and how it grows: the baseline of the state-size target.

    python bench/state_size.py [--lines 1 10 100] [--corrections 0 10 100]

For each number of lines L, an order of L lines (quantity 1, realistic ids, titles and a shipping address) is
placed and shipped by L `fulfillment.recorded` events (one line each, a UPS tracking number and a tracking URL),
applied with the ledger's own `apply` at Kafka-like positions. Then the last fulfillment's tracking is corrected C
times (each a new version: what a seller editing a tracking number publishes) and the whole history is replayed once
at new positions (a replay: every input a duplicate). Printed per (L, C): the state's JSON as the `orders` table
stores it before compression (`ledger.stored`), the compressed value (`streams.orders.tables.ORDERS.encode`), how
many inputs the state remembers (`recent` and `rejected`, see `ledger.apply`), and the share of the JSON taken by
that memory. `--plain` leaves out the titles and the shipping address (the order of `bench/ledger_throughput.py`).
Pure: no Kafka, no disk; a second or two.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from ledger import OrderState, apply, new_state, stored
from schemas.events import FulfilledLine, InputEvent, OrderLine, PartyRef, ShippingDetails, SourceRef
from schemas.factories import fulfillment_recorded, order_placed
from streams.orders.tables import ORDERS

BUYER = PartyRef(partner="northwind-trading", connection="northwind-shopify", platform="shopify",
                 order_ref="gid://shopify/Order/5932751913049")
SELLER = PartyRef(partner="acme-supplies", connection="acme-bigcommerce", platform="bigcommerce", order_ref="104211")
SOURCE = SourceRef(partner=SELLER.partner, connection=SELLER.connection, platform=SELLER.platform)
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def shipping() -> ShippingDetails:
    return ShippingDetails.model_validate({
        "email": "ada.lovelace@example.com", "phone": "+44 20 7946 0958",
        "method": "Standard (3-5 days)", "buyer_order_number": "#104211",
        "address": {"name": "Ada Lovelace", "company": "Analytical Engines Ltd",
                    "lines": ["12 St James's Square", "Flat 4"], "city": "London", "region": "LND",
                    "postal_code": "SW1Y 4JH", "country_code": "GB", "phone": "+44 20 7946 0958"}})


def inputs(lines: int, corrections: int, *, plain: bool = False) -> list[InputEvent]:
    """The order's inputs in the order they are applied (see the module docstring)."""
    placed = order_placed(buyer=BUYER, seller=SELLER, occurred_at=START, lines=[
        OrderLine(line_id=f"gid://shopify/LineItem/{14000000000 + n}", sku=f"ACME-SKU-{n:05d}", quantity=1,
                  title=None if plain else f"Enamel camping mug, 350 ml, colour {n}") for n in range(lines)])
    if not plain:
        placed = placed.model_copy(update={"shipping": shipping()})
    events: list[InputEvent] = [placed]
    for n, line in enumerate(placed.lines):
        events.append(fulfillment_recorded(
            order_id=placed.order_id, source=SOURCE, fulfillment_id=f"{8800000 + n}",
            source_version=START + timedelta(hours=2, minutes=n), carrier="UPS",
            tracking_numbers=[f"1Z999AA1{n:010d}"],
            tracking_urls=[f"https://www.ups.com/track?tracknum=1Z999AA1{n:010d}"],
            lines=[FulfilledLine(line_id=line.line_id, sku=line.sku, quantity=1)]))
    last = events[-1]
    assert last.type == "fulfillment.recorded"
    for c in range(1, corrections + 1):
        events.append(fulfillment_recorded(
            order_id=placed.order_id, source=SOURCE, fulfillment_id=last.fulfillment_id,
            source_version=last.source_version + timedelta(minutes=c), carrier="UPS",
            tracking_numbers=[f"1Z999AA2{c:010d}"],
            tracking_urls=[f"https://www.ups.com/track?tracknum=1Z999AA2{c:010d}"], lines=last.lines))
    return events


def state_after(events: list[InputEvent]) -> OrderState:
    """The state after every event once at offsets 0.., then every event again at new offsets (a replay)."""
    state = new_state(events[0].order_id)
    for offset, event in enumerate([*events, *events]):
        topic = "fulfillsync.order-events" if event.type.startswith("order.") else "fulfillsync.fulfillment-events"
        state = apply(state, event, f"{topic}:0:{offset}").state
    return state


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--corrections", type=int, nargs="+", default=[0, 10, 100])
    parser.add_argument("--plain", action="store_true", help="orders without titles and shipping address")
    args = parser.parse_args(argv)
    print(f"ledger state size  commit {commit()}, Python {platform.python_version()}")
    print(f"{'lines':>6} {'corrections':>11} {'shipped':>8} {'JSON bytes':>11} {'compressed':>11} "
          f"{'inputs kept':>12} {'memory':>10}")
    for lines in args.lines:
        for corrections in args.corrections:
            state = state_after(inputs(lines, corrections, plain=args.plain))
            text = stored.encode(state)
            memory = len(text) - len(stored.encode(state.model_copy(update={"recent": [], "rejected": []})))
            print(f"{lines:>6} {corrections:>11} {'yes' if state.is_shipped else 'no':>8} {len(text):>11,} "
                  f"{len(ORDERS.encode(state)):>11,} {len(state.recent) + len(state.rejected):>12,} "
                  f"{memory / len(text):>10.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
