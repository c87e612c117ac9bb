"""The seller order sink links lines to the seller's catalog and prices them (`ledger.seller_lines` through
`streams.sellers.catalog`): what reaches `create_order`, the `unknown_sku`/`ambiguous_sku` dead letters and a
requeue after the catalog is fixed, and the per-connection cache (harness: tests/support/seller_sink.py)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from prometheus_client import CollectorRegistry

from connectors.base import RetryableError
from fulfillsync.ops.dead_letters import ADVICE
from schemas.config import Config
from schemas.events import DeadLetterReason
from streams.sellers.catalog import CatalogMetrics, SellerCatalogs
from streams.sellers.records import RetryRecord
from tests.support.seller_sink import (
    CATALOG_PRICE,
    CONFIG,
    CREATED,
    NOW,
    TOPICS,
    Connector,
    Message,
    catalog_item,
    harness,
    placed,
)


def with_route(**settings: object) -> Config:
    data = CONFIG.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["routes"][0].update(settings)
    return Config.model_validate(data)


def requeue(letter: dict[str, object]) -> RetryRecord:
    """The retry record `fulfillsync dead-letters requeue` makes of a seller-order letter."""
    return RetryRecord.model_validate({"placed": placed(), "attempt": 1, "not_before": NOW,
                                       "original": letter["original"],
                                       "last_error": f"requeued from dead letter {letter['event_id']}"})


def test_lines_are_linked_to_the_catalog_and_priced_at_the_catalog_price_by_default() -> None:
    h = harness(CREATED)
    h.run_placed(placed())
    [call] = h.connector.calls
    assert h.connector.lookups == [("ACME-CAP", "ACME-MUG")]
    assert [(line.sku, line.variant, line.unit_price) for line in call.lines] == [
        ("ACME-MUG", catalog_item("ACME-MUG"), CATALOG_PRICE), ("ACME-CAP", catalog_item("ACME-CAP"), CATALOG_PRICE)]
    assert (call.currency, call.shipping_price) == ("USD", Decimal(0)) and call.unlinked_skus() == ()


def test_a_price_list_and_flat_shipping_reach_the_seller_order() -> None:
    h = harness(CREATED, config=with_route(price={"list": {"ACME-MUG": "4.20"}}, shipping={"flat": "4.90"}))
    h.run_placed(placed())
    [call] = h.connector.calls
    assert [line.unit_price for line in call.lines] == [Decimal("4.20"), CATALOG_PRICE]
    assert call.shipping_price == Decimal("4.90")


def test_an_unknown_sku_is_dead_lettered_and_created_once_requeued_after_the_seller_adds_it() -> None:
    h = harness(CREATED)
    h.connector.catalog = {"ACME-MUG": (catalog_item("ACME-MUG"),)}
    h.run_placed(placed())
    assert h.connector.calls == [] and h.events.published == [] and h.retries() == []
    [letter] = h.letters()
    assert letter["reason"] == "unknown_sku" and letter["stage"] == "seller_orders"
    assert "acme-shopify's catalog has no sellable item with SKU 'ACME-CAP'" in str(letter["message"])
    assert "requeue" in str(letter["message"])
    h.connector.catalog["ACME-CAP"] = (catalog_item("ACME-CAP", 2),)
    asyncio.run(h.creator.process_retry(_message(requeue(letter))))
    [call] = h.connector.calls
    assert [line.variant is not None for line in call.lines] == [True, True]
    assert h.connector.lookups == [("ACME-CAP", "ACME-MUG"), ("ACME-CAP",)]  # the found SKU was cached
    assert len(h.events.published) == 1 and len(h.letters()) == 1


def test_an_order_created_before_its_sku_left_the_catalog_is_confirmed_not_refused() -> None:
    # attempt 1 created the order, but its answer was lost; then the seller archived a product
    h = harness(RetryableError("read timeout", connection="acme-shopify"), CREATED)
    h.run_placed(placed())
    [retry] = h.retries()
    h.connector.catalog = {"ACME-MUG": (catalog_item("ACME-MUG"),)}
    h.connector.existing = CREATED
    h.creator._catalogs = SellerCatalogs(ttl_s=600, metrics=CatalogMetrics(CollectorRegistry()))  # a restart
    asyncio.run(h.creator.process_retry(_message(retry)))
    assert h.letters() == [] and len(h.events.published) == 1
    [found] = h.connector.found
    assert [(line.line_ref, line.variant) for line in found.lines] == [("L1", None), ("L2", None)]
    assert h.connector.calls[-1].unlinked_skus() == ("ACME-MUG", "ACME-CAP")  # create_order answers the found one


def test_custom_line_creates_the_unknown_sku_unlinked() -> None:
    h = harness(CREATED, config=with_route(unknown_sku="custom_line"))
    h.connector.catalog = {"ACME-MUG": (catalog_item("ACME-MUG"),)}
    h.run_placed(placed())
    [call] = h.connector.calls
    assert call.unlinked_skus() == ("ACME-CAP",) and h.letters() == []


def test_an_ambiguous_sku_is_dead_lettered_and_never_cached() -> None:
    h = harness(CREATED, config=with_route(unknown_sku="custom_line"))
    h.connector.catalog = {"ACME-MUG": (catalog_item("ACME-MUG", 1), catalog_item("ACME-MUG", 2)),
                           "ACME-CAP": (catalog_item("ACME-CAP", 3),)}
    h.run_placed(placed())
    [letter] = h.letters()
    assert letter["reason"] == "ambiguous_sku" and "'ACME-MUG'" in str(letter["message"])
    assert h.connector.calls == []
    h.run_placed(placed(skus=("ACME-MUG", "ACME-HAT")))
    assert h.connector.lookups[-1] == ("ACME-HAT", "ACME-MUG")


def test_a_failed_lookup_is_retried_like_a_failed_create() -> None:
    h = harness(CREATED)
    h.connector.catalog_failures = [RetryableError("catalog: 503", connection="acme-shopify")]
    h.run_placed(placed())
    [retry] = h.retries()
    assert retry.attempt == 1 and "catalog: 503" in retry.last_error and h.letters() == []
    assert h.connector.calls == []
    asyncio.run(h.creator.process_retry(_message(retry)))
    assert len(h.connector.calls) == 1 and len(h.events.published) == 1


def test_every_reason_has_advice_for_operators() -> None:
    assert set(ADVICE) == set(DeadLetterReason.__args__)  # type: ignore[attr-defined]


class Timer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_found_skus_are_cached_per_connection_until_the_ttl() -> None:
    timer = Timer()
    registry = CollectorRegistry()
    catalogs = SellerCatalogs(ttl_s=600, metrics=CatalogMetrics(registry), timer=timer)
    connector = Connector([])
    connector.catalog = {"A": (catalog_item("A"),)}

    def lookup(connection: str, *skus: str) -> dict[str, int]:
        found = asyncio.run(catalogs.lookup(connection, connector, skus))
        return {sku: len(variants) for sku, variants in found.variants.items()}

    assert lookup("one", "A", "B") == {"A": 1, "B": 0}
    assert lookup("one", "A", "B") == {"A": 1, "B": 0}
    assert connector.lookups == [("A", "B"), ("B",)]  # B, missing, is asked again
    lookup("two", "A")
    assert connector.lookups[-1] == ("A",)  # another connection, another catalog
    timer.now = 601
    lookup("one", "A")
    assert connector.lookups[-1] == ("A",)
    counted = {outcome: registry.get_sample_value("fulfillsync_catalog_lookups_total",
                                                  {"connection": "one", "outcome": outcome})
               for outcome in ("asked", "cached", "missing", "ambiguous")}
    assert counted == {"asked": 4, "cached": 1, "missing": 2, "ambiguous": None}


def _message(record: RetryRecord) -> Message:
    return Message(TOPICS.retries, 1, 3, record.placed.order_id.encode() if record.placed else None,
                   record.model_dump_json().encode())
