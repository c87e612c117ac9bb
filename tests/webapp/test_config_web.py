"""The `web:` section and per-connection `web_access` of the configuration file."""

from __future__ import annotations

import pytest

from schemas.config_file import ConfigError, parse_config
from webapp.auth import hash_password

HASH = hash_password("pw", n=2**10)
ENV = {"WEB_SECRET": "x" * 40, "MAKER_HASH": HASH, "SHOP_TOKEN": "t"}


def config_text(*, access_on: str = "maker", web: str = "web:\n  session_secret: ${WEB_SECRET}\n",
                password_hash: str = "${MAKER_HASH}") -> str:
    connections = {
        "maker": "  - {id: maker, partner: maker-co, role: seller, platform: manual}",
        "shop": "  - {id: shop, partner: retail, role: buyer, platform: shopify, base_url: 'https://shop.example',"
                " credentials: {access_token: '${SHOP_TOKEN}'}}",
        "big": "  - {id: big, partner: big-co, role: seller, platform: shopify, base_url: 'https://big.example',"
               " credentials: {access_token: '${SHOP_TOKEN}'}}",
    }
    lines = [text if name != access_on else text[:-1] + f", web_access: {{password_hash: '{password_hash}'}}}}"
             for name, text in connections.items()]
    return web + "connections:\n" + "\n".join(lines) + "\n"


def test_a_manual_seller_and_a_buyer_may_have_web_access() -> None:
    for name in ("maker", "shop"):
        config = parse_config(config_text(access_on=name), environ=ENV).config
        access = config.connection(name).web_access
        assert access is not None and access.password_hash.get_secret_value() == HASH
        assert "x" * 40 not in repr(config.web)


def test_the_web_section_has_defaults() -> None:
    config = parse_config(config_text(), environ=ENV).config
    assert (config.web.host, config.web.port, config.web.session_ttl.total_seconds()) == ("127.0.0.1", 8080, 43200)


def test_a_seller_on_a_platform_cannot_have_web_access() -> None:
    with pytest.raises(ConfigError, match=r"connections\[2\]\.web_access: only for buyers and manual sellers"):
        parse_config(config_text(access_on="big"), environ=ENV)


def test_web_access_needs_a_session_secret() -> None:
    with pytest.raises(ConfigError, match=r"web\.session_secret: required when a connection has web_access"):
        parse_config(config_text(web=""), environ=ENV)


def test_a_short_session_secret_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigError, match="at least 32 characters") as error:
        parse_config(config_text(), environ={**ENV, "WEB_SECRET": "tooshort"})
    assert "tooshort" not in str(error.value)


def test_a_plain_password_instead_of_a_hash_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigError, match="expected a hash made by `fulfillsync web hash-password`") as error:
        parse_config(config_text(password_hash="${PLAIN}"), environ={**ENV, "PLAIN": "hunter22"})
    assert "hunter22" not in str(error.value)


def test_a_password_hash_written_in_the_file_is_a_warning() -> None:
    loaded = parse_config(config_text(password_hash=HASH), environ=ENV)
    assert any("web_access.password_hash: a secret is written in the file" in w for w in loaded.warnings)


def test_smtp_settings_take_from_and_a_login_pair() -> None:
    web = ("web:\n  session_secret: ${WEB_SECRET}\n  public_url: https://orders.example/\n"
           "  smtp: {host: 127.0.0.1, port: 2525, from: orders@example.com}\n")
    config = parse_config(config_text(web=web), environ=ENV).config
    assert config.web.smtp is not None and config.web.smtp.sender == "orders@example.com"
    assert config.web.public_url == "https://orders.example"
    with pytest.raises(ConfigError, match="give both username and password"):
        parse_config(config_text(web=web.replace("from: orders@example.com", "from: o@e.com, username: u")),
                     environ=ENV)
