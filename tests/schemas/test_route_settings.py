"""A route's seller-order settings in the configuration file (`schemas.config.Route`): defaults, the accepted
shapes, and errors that name the line and say what to do."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas.config import FlatShipping, PriceList
from schemas.config_file import ConfigError, parse_config

CONNECTIONS = """\
connections:
  - {id: shop, partner: shop, role: buyer, platform: shopify, base_url: "https://shop.example",
     credentials: {access_token: t}}
  - {id: acme, partner: acme, role: seller, platform: bigcommerce, base_url: "https://acme.example",
     credentials: {access_token: t}}
  - {id: hand, partner: hand, role: seller, platform: manual}
routes:
"""


def problems(routes: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(CONNECTIONS + routes, environ={})
    return raised.value.problems


def test_defaults_reject_unknown_skus_at_catalog_prices_with_free_shipping() -> None:
    [route] = parse_config(CONNECTIONS + "  - {buyer: shop, seller: acme, skus: ['ACME-*']}\n",
                           environ={}).config.routes
    assert (route.unknown_sku, route.price, route.shipping) == ("reject", "catalog", "free")


def test_a_price_list_custom_lines_and_flat_shipping_are_read() -> None:
    text = ("  - buyer: shop\n    seller: acme\n    skus: ['ACME-*']\n    unknown_sku: custom_line\n"
            "    price: {list: {ACME-1: 12.5, ACME-2: '3.10'}}\n    shipping: {flat: 4.90}\n")
    [route] = parse_config(CONNECTIONS + text, environ={}).config.routes
    assert route.unknown_sku == "custom_line"
    assert route.price == PriceList.model_validate({"list": {"ACME-1": Decimal("12.5"), "ACME-2": Decimal("3.10")}})
    assert route.shipping == FlatShipping(flat=Decimal("4.90"))


def test_a_listed_sku_the_route_does_not_cover_is_refused_with_its_line() -> None:
    [problem] = problems("  - buyer: shop\n    seller: acme\n    skus: ['ACME-*']\n"
                         "    price: {list: {ACNE-1: 1}}\n")
    assert problem.startswith("line 11: routes[0].price.list: ")
    assert "ACNE-1 not covered by this route's skus (ACME-*)" in problem


def test_a_negative_price_or_an_unknown_rule_is_refused() -> None:
    assert "price" in problems("  - {buyer: shop, seller: acme, skus: ['A*'], price: {list: {A1: -1}}}\n")[0]
    assert "unknown_sku" in problems("  - {buyer: shop, seller: acme, skus: ['A*'], unknown_sku: skip}\n")[0]
    assert "shipping" in problems("  - {buyer: shop, seller: acme, skus: ['A*'], shipping: {flat: -2}}\n")[0]


def test_catalog_settings_on_a_route_to_a_manual_seller_are_refused() -> None:
    [problem] = problems("  - {buyer: shop, seller: hand, skus: ['H*'], shipping: {flat: 1}}\n")
    assert "routes[0].shipping: seller 'hand' fulfills in the web app and has no catalog" in problem


def test_a_listed_price_that_an_earlier_route_of_the_pair_covers_is_refused() -> None:
    [problem] = problems("  - {buyer: shop, seller: acme, skus: ['ACME-*']}\n"
                         "  - {buyer: shop, seller: acme, skus: ['ACME-1'], price: {list: {ACME-1: 2}}}\n")
    assert "routes[1].price.list: ACME-1 is covered first by routes[0]" in problem
