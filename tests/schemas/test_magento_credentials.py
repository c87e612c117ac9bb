"""A Magento connection's credentials: a bearer token alone, or the integration's four OAuth 1.0a credentials;
anything else is a configuration error naming the keys (never a value) and saying what to give."""

from __future__ import annotations

from textwrap import dedent

import pytest
from pydantic import ValidationError

from schemas.config import Connection
from schemas.config_file import ConfigError, parse_config
from schemas.platform_names import CONNECTION_RULES, credentials_problem

OAUTH = {"consumer_key": "ck-value", "consumer_secret": "cs-value", "access_token": "at-value",
         "access_token_secret": "ts-value"}


def magento(credentials: dict[str, str]) -> Connection:
    return Connection.model_validate({"id": "mg", "partner": "p", "role": "seller", "platform": "magento2",
                                      "base_url": "https://shop.example/rest/default", "credentials": credentials})


@pytest.mark.parametrize("credentials", [{"access_token": "at-value"}, OAUTH, {**OAUTH, "unrelated": "x"}])
def test_a_bearer_token_or_the_four_oauth_credentials_are_accepted(credentials: dict[str, str]) -> None:
    assert set(magento(credentials).credentials) == set(credentials)


@pytest.mark.parametrize(("credentials", "missing"), [
    ({"access_token": "at-value", "consumer_key": "ck-value"}, "missing consumer_secret, access_token_secret"),
    ({"consumer_key": "ck-value", "consumer_secret": "cs-value"}, "missing access_token, access_token_secret"),
    ({k: v for k, v in OAUTH.items() if k != "access_token"}, "missing access_token"),
    ({}, "missing access_token"),
])
def test_any_other_combination_says_what_to_give(credentials: dict[str, str], missing: str) -> None:
    with pytest.raises(ValidationError) as caught:
        magento(credentials)
    message = caught.value.errors()[0]["msg"]  # pydantic's own str() adds the input, not what we report
    assert "credentials: platform magento2 needs exactly one of: access_token alone (a bearer token) or " \
           "consumer_key, consumer_secret, access_token and access_token_secret (OAuth 1.0a" in message
    assert missing in message
    assert not any(value in message for value in credentials.values())


def test_a_file_with_half_the_oauth_credentials_points_at_the_key_and_its_line() -> None:
    text = dedent("""\
        connections:
          - id: mg
            partner: p
            role: seller
            platform: magento2
            base_url: https://shop.example/rest/default
            credentials: {consumer_key: "${MG_KEY}", access_token: "${MG_TOKEN}"}
        """)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="t.yaml", environ={"MG_KEY": "ck-secret-value", "MG_TOKEN": "at-secret-value"})
    (problem,) = caught.value.problems
    assert "connections[0].credentials" in problem and "missing consumer_secret, access_token_secret" in problem
    assert "secret-value" not in problem


def test_platforms_with_one_set_keep_their_message() -> None:
    assert credentials_problem("woocommerce", {"consumer_key"}) == \
        "credentials: platform woocommerce needs consumer_key, consumer_secret; missing consumer_secret"
    assert credentials_problem("shopify", {"access_token", "other"}) is None
    assert CONNECTION_RULES["magento2"].credentials == ("access_token",)  # what demos and tests give by default
