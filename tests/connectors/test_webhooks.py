"""Webhook verification per platform (connectors.webhooks): valid, forged, wrong secret, missing headers,
Standard Webhooks timestamps and signature lists, the order each delivery names, and the duplicate window."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.webhooks import Accepted, Ping, RecentBodies, RecentDeliveries, Refused, Verdict, verify_delivery
from schemas.config import Connection

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "platform-specs"
SECRET = "hush-a-long-webhook-secret"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CREDENTIALS: dict[str, dict[str, str]] = {
    "shopify": {"access_token": "t"}, "bigcommerce": {"access_token": "t"}, "magento2": {"access_token": "t"},
    "woocommerce": {"consumer_key": "ck", "consumer_secret": "cs"}, "manual": {},
}
# The Standard Webhooks specification's published test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID, VECTOR_TS, VECTOR_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def connection(platform: str, secret: str | None = SECRET) -> Connection:
    return Connection.model_validate({
        "id": f"c-{platform}", "partner": "p", "role": "seller", "platform": platform,
        "base_url": None if platform == "manual" else "https://store.example",
        "credentials": CREDENTIALS[platform], "webhook_secret": secret})


def b64_hmac(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def fixture_body(*parts: str) -> bytes:
    return (FIXTURES.joinpath(*parts)).read_bytes()


def refused(verdict: Verdict, *secrets: str) -> str:
    """The reason of a refusal, checked never to contain the secret or a signature."""
    assert isinstance(verdict, Refused), verdict
    for secret in (SECRET, *secrets):
        assert secret not in verdict.reason
    return verdict.reason


# -- Shopify ------------------------------------------------------------------------------------------------


def shopify_headers(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {"X-Shopify-Hmac-Sha256": b64_hmac(secret.encode(), body), "X-Shopify-Topic": "fulfillments/create",
            "X-Shopify-Webhook-Id": "wh-1", "X-Shopify-Event-Id": "ev-1", **extra}


def test_shopify_fulfillment_webhook_names_the_order_gid_and_the_event_id() -> None:
    body = fixture_body("shopify", "fulfillment.json")
    verdict = verify_delivery(connection("shopify"), shopify_headers(body), body, NOW)
    assert verdict == Accepted(delivery_id="ev-1", topic="fulfillments/create",
                               order_ref="gid://shopify/Order/450789469", replay_key=sha256(body))


def test_shopify_order_webhook_bare_and_wrapped_give_the_connector_s_order_ref() -> None:
    wrapped = fixture_body("shopify", "order.json")
    bare = json.dumps(json.loads(wrapped)["order"]).encode()
    for body in (wrapped, bare):
        verdict = verify_delivery(connection("shopify"),
                                  shopify_headers(body, **{"X-Shopify-Topic": "orders/updated"}), body, NOW)
        assert isinstance(verdict, Accepted)
        assert verdict.order_ref == "gid://shopify/Order/450789469"
    with_gid = json.dumps({"id": 5, "admin_graphql_api_id": "gid://shopify/Order/5"}).encode()
    verdict = verify_delivery(connection("shopify"),
                              shopify_headers(with_gid, **{"X-Shopify-Topic": "orders/create"}), with_gid, NOW)
    assert isinstance(verdict, Accepted) and verdict.order_ref == "gid://shopify/Order/5"


def test_shopify_fulfillment_order_webhook_and_events_variant_headers() -> None:
    body = fixture_body("shopify", "fulfillment_orders.json")
    headers = {"shopify-hmac-sha256": b64_hmac(SECRET.encode(), body), "shopify-topic": "fulfillment_orders/moved",
               "shopify-event-id": "ev-9"}
    verdict = verify_delivery(connection("shopify"), headers, body, NOW)
    assert verdict == Accepted(delivery_id="ev-9", topic="fulfillment_orders/moved",
                               order_ref="gid://shopify/Order/2772506476707", replay_key=sha256(body))


def test_shopify_delivery_id_falls_back_to_the_webhook_id_and_a_payload_without_order_names_none() -> None:
    body = b'{"id": 1, "name": "app uninstalled"}'
    headers = shopify_headers(body, **{"X-Shopify-Topic": "app/uninstalled"})
    del headers["X-Shopify-Event-Id"]
    assert verify_delivery(connection("shopify"), headers, body, NOW) == Accepted(
        delivery_id="wh-1", topic="app/uninstalled", order_ref=None, replay_key=sha256(body))


def test_shopify_signed_body_that_is_not_json_is_accepted_without_an_order() -> None:
    body = b"\xff not json"
    verdict = verify_delivery(connection("shopify"), shopify_headers(body), body, NOW)
    assert verdict == Accepted(delivery_id="ev-1", topic="fulfillments/create", order_ref=None,
                               replay_key=sha256(body))


def test_shopify_headers_are_case_insensitive() -> None:
    body = fixture_body("shopify", "fulfillment.json")
    headers = {name.upper(): value for name, value in shopify_headers(body).items()}
    assert isinstance(verify_delivery(connection("shopify"), headers, body, NOW), Accepted)


def test_shopify_forged_body_wrong_secret_missing_or_odd_header_are_refused() -> None:
    body = fixture_body("shopify", "fulfillment.json")
    good = shopify_headers(body)
    forged = body.replace(b"450789469", b"450789470")
    reason = refused(verify_delivery(connection("shopify"), good, forged, NOW), good["X-Shopify-Hmac-Sha256"])
    assert "does not match" in reason
    other = shopify_headers(body, secret="another-secret")
    refused(verify_delivery(connection("shopify"), other, body, NOW), other["X-Shopify-Hmac-Sha256"])
    missing = {k: v for k, v in good.items() if k != "X-Shopify-Hmac-Sha256"}
    assert "missing" in refused(verify_delivery(connection("shopify"), missing, body, NOW))
    for odd in ("", "   ", "é\u2028\udcff", "A" * 10_000):
        refused(verify_delivery(connection("shopify"), {**good, "X-Shopify-Hmac-Sha256": odd}, body, NOW))


def test_a_woocommerce_signature_does_not_verify_a_shopify_connection_without_its_header() -> None:
    body = fixture_body("shopify", "fulfillment.json")
    headers = {"X-WC-Webhook-Signature": b64_hmac(SECRET.encode(), body)}
    refused(verify_delivery(connection("shopify"), headers, body, NOW))


# -- WooCommerce --------------------------------------------------------------------------------------------


def woo_headers(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {"X-WC-Webhook-Signature": b64_hmac(secret.encode(), body), "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated", "X-WC-Webhook-ID": "3",
            "X-WC-Webhook-Delivery-ID": "d-77", **extra}


def test_woocommerce_order_webhook_names_the_order_id() -> None:
    body = fixture_body("woocommerce", "order.retrieve.example.json")
    verdict = verify_delivery(connection("woocommerce"), woo_headers(body), body, NOW)
    assert verdict == Accepted(delivery_id="d-77", topic="order.updated", order_ref="727", replay_key=sha256(body))


def test_woocommerce_other_resources_name_no_order() -> None:
    body = b'{"id": 12, "name": "A product"}'
    headers = woo_headers(body, **{"X-WC-Webhook-Topic": "product.updated", "X-WC-Webhook-Resource": "product"})
    verdict = verify_delivery(connection("woocommerce"), headers, body, NOW)
    assert isinstance(verdict, Accepted) and verdict.order_ref is None


def test_woocommerce_forged_wrong_secret_and_missing_signature_are_refused() -> None:
    body = fixture_body("woocommerce", "order.retrieve.example.json")
    good = woo_headers(body)
    refused(verify_delivery(connection("woocommerce"), good, body + b" ", NOW), good["X-WC-Webhook-Signature"])
    other = woo_headers(body, secret=SECRET + "x")
    refused(verify_delivery(connection("woocommerce"), other, body, NOW), other["X-WC-Webhook-Signature"])
    unsigned = {k: v for k, v in good.items() if k != "X-WC-Webhook-Signature"}
    assert "missing" in refused(verify_delivery(connection("woocommerce"), unsigned, body, NOW))


def test_woocommerce_activation_ping_is_acknowledged_but_only_in_its_exact_shape() -> None:
    assert verify_delivery(connection("woocommerce"), {"User-Agent": "WooCommerce/9 Hookshot"}, b"webhook_id=42",
                           NOW) == Ping(webhook_id="42")
    for body in (b"webhook_id=42&x=1", b"webhook_id=", b'{"webhook_id": 42}'):
        refused(verify_delivery(connection("woocommerce"), {}, body, NOW))
    # A delivery claiming a topic is never a ping: unsigned, it is refused.
    refused(verify_delivery(connection("woocommerce"), {"X-WC-Webhook-Topic": "order.updated"}, b"webhook_id=42",
                            NOW))
    # Pings exist on WooCommerce only.
    refused(verify_delivery(connection("shopify"), {}, b"webhook_id=42", NOW))


# -- BigCommerce (Standard Webhooks) ------------------------------------------------------------------------


def standard_headers(body: bytes, key: bytes, message_id: str = "msg_1", at: datetime = NOW,
                     signature: str | None = None) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    own = "v1," + b64_hmac(key, f"{message_id}.{timestamp}.".encode() + body)
    return {"webhook-id": message_id, "webhook-timestamp": timestamp,
            "webhook-signature": own if signature is None else signature}


def test_standard_webhooks_published_test_vector_verifies() -> None:
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS), "webhook-signature": VECTOR_SIGNATURE}
    at = datetime.fromtimestamp(VECTOR_TS, UTC)
    verdict = verify_delivery(connection("bigcommerce", VECTOR_SECRET), headers, VECTOR_BODY, at)
    assert verdict == Accepted(delivery_id=VECTOR_ID, topic=None, order_ref=None)
    refused(verify_delivery(connection("bigcommerce", VECTOR_SECRET), headers, VECTOR_BODY + b" ", at),
            VECTOR_SECRET, VECTOR_SIGNATURE)


@pytest.mark.parametrize(("name", "order_ref"), [("store_order_updated.json", "250"),
                                                 ("store_order_statusUpdated.json", "250"),
                                                 ("store_shipment_created.json", "251")])
def test_bigcommerce_callbacks_name_their_order(platform_specs: Path, name: str, order_ref: str) -> None:
    body = (platform_specs / "bigcommerce" / "examples" / name).read_bytes()
    verdict = verify_delivery(connection("bigcommerce"), standard_headers(body, SECRET.encode()), body, NOW)
    assert verdict == Accepted(delivery_id="msg_1", topic=json.loads(body)["scope"], order_ref=order_ref)


BC_BODY = json.dumps({"scope": "store/shipment/updated", "store_id": "1",
                      "data": {"type": "shipment", "id": 12, "orderId": 251}, "hash": "h",
                      "created_at": 1561482857}).encode()


def test_bigcommerce_raw_and_whsec_secrets() -> None:
    raw = verify_delivery(connection("bigcommerce"), standard_headers(BC_BODY, SECRET.encode()), BC_BODY, NOW)
    assert isinstance(raw, Accepted) and raw.order_ref == "251"
    whsec = "whsec_" + base64.b64encode(b"random key bytes").decode()
    assert isinstance(verify_delivery(connection("bigcommerce", whsec),
                                      standard_headers(BC_BODY, b"random key bytes"), BC_BODY, NOW), Accepted)
    # the whsec_ secret is not used as raw text
    refused(verify_delivery(connection("bigcommerce", whsec), standard_headers(BC_BODY, whsec.encode()), BC_BODY,
                            NOW), whsec)
    broken = "whsec_not*base64!"
    assert "base64" in refused(verify_delivery(connection("bigcommerce", broken),
                                               standard_headers(BC_BODY, b"x"), BC_BODY, NOW), broken)


def test_bigcommerce_forged_body_wrong_secret_and_swapped_id_are_refused() -> None:
    good = standard_headers(BC_BODY, SECRET.encode())
    forged = BC_BODY.replace(b"251", b"252")
    assert "signature" in refused(verify_delivery(connection("bigcommerce"), good, forged, NOW),
                                  good["webhook-signature"])
    refused(verify_delivery(connection("bigcommerce"), standard_headers(BC_BODY, b"wrong"), BC_BODY, NOW))
    refused(verify_delivery(connection("bigcommerce"), {**good, "webhook-id": "msg_2"}, BC_BODY, NOW))


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_bigcommerce_each_missing_header_is_refused(header: str) -> None:
    headers = standard_headers(BC_BODY, SECRET.encode())
    del headers[header]
    assert header in refused(verify_delivery(connection("bigcommerce"), headers, BC_BODY, NOW))


@pytest.mark.parametrize(("offset_s", "accepted"), [(0, True), (-300, True), (300, True), (-301, False),
                                                    (301, False), (-86_400, False), (86_400, False)])
def test_bigcommerce_timestamp_window(offset_s: int, accepted: bool) -> None:
    at = NOW + timedelta(seconds=offset_s)  # when the delivery says it was signed
    verdict = verify_delivery(connection("bigcommerce"), standard_headers(BC_BODY, SECRET.encode(), at=at),
                              BC_BODY, NOW)
    if accepted:
        assert isinstance(verdict, Accepted)
    else:
        assert ("old" if offset_s < 0 else "future") in refused(verdict)


def test_bigcommerce_window_is_configurable_and_the_timestamp_must_be_unix_seconds() -> None:
    headers = standard_headers(BC_BODY, SECRET.encode(), at=NOW - timedelta(minutes=20))
    assert isinstance(verify_delivery(connection("bigcommerce"), headers, BC_BODY, NOW, timedelta(minutes=30)),
                      Accepted)
    refused(verify_delivery(connection("bigcommerce"), headers, BC_BODY, NOW, timedelta(minutes=10)))
    for stamp in ("2026-11-26T12:00:00Z", "-5", "1.5", "١٢٣"):
        refused(verify_delivery(connection("bigcommerce"), {**headers, "webhook-timestamp": stamp}, BC_BODY, NOW))


def test_bigcommerce_several_signatures_any_v1_entry_may_match() -> None:
    key = SECRET.encode()
    own = standard_headers(BC_BODY, key)["webhook-signature"]
    stale_key = standard_headers(BC_BODY, b"old rotated key")["webhook-signature"]
    for header in (f"{stale_key} {own}", f"{own} {stale_key}", f"v1a,{own[3:]} {own}", f"v1,bm9wZQ== {own}"):
        verdict = verify_delivery(connection("bigcommerce"), standard_headers(BC_BODY, key, signature=header),
                                  BC_BODY, NOW)
        assert isinstance(verdict, Accepted), header
    for header in (stale_key, f"v1a,{own[3:]}", own[3:], f"v2,{own[3:]}", "", "v1,"):
        refused(verify_delivery(connection("bigcommerce"), standard_headers(BC_BODY, key, signature=header),
                                BC_BODY, NOW), own)


def test_bigcommerce_signed_non_order_scope_names_no_order() -> None:
    body = json.dumps({"scope": "store/product/updated", "data": {"type": "product", "id": 3}}).encode()
    verdict = verify_delivery(connection("bigcommerce"), standard_headers(body, SECRET.encode()), body, NOW)
    assert verdict == Accepted(delivery_id="msg_1", topic="store/product/updated", order_ref=None)


# -- connections that cannot be verified --------------------------------------------------------------------


def any_signed_headers(body: bytes) -> dict[str, Any]:
    return {**shopify_headers(body), **woo_headers(body), **standard_headers(body, SECRET.encode())}


@pytest.mark.parametrize("target", [None, "shopify-no-secret", "shopify-empty-secret", "magento2", "manual"])
def test_unverifiable_connections_are_refused(target: str | None) -> None:
    body = BC_BODY
    chosen = {None: None, "shopify-no-secret": connection("shopify", None),
              "shopify-empty-secret": connection("shopify", ""), "magento2": connection("magento2"),
              "manual": connection("manual")}[target]
    refused(verify_delivery(chosen, any_signed_headers(body), body, NOW))


# -- the duplicate window -----------------------------------------------------------------------------------


def test_recent_deliveries_recognise_duplicates_per_connection() -> None:
    recent = RecentDeliveries()
    assert not recent.seen_before("a", "d1")
    assert recent.seen_before("a", "d1")
    assert recent.seen_before("a", "d1")
    assert not recent.seen_before("b", "d1")


def test_recent_deliveries_are_bounded_and_forget_the_least_recently_seen() -> None:
    recent = RecentDeliveries(capacity=3)
    for delivery in ("d1", "d2", "d3"):
        recent.seen_before("a", delivery)
    assert recent.seen_before("a", "d1")  # refreshed: d2 is now the oldest
    assert not recent.seen_before("a", "d4")  # pushes d2 out
    assert len(recent) == 3
    assert not recent.seen_before("a", "d2")
    assert recent.seen_before("a", "d1")
    with pytest.raises(ValueError, match="capacity"):
        RecentDeliveries(capacity=0)


# -- inputs that once raised, and the same HMAC work on every path ---------------------------------------------


@pytest.mark.parametrize("stamp", ["1" * 400, "1" * 5000, "0" * 13 + "1", "9" * 13])
def test_standard_webhooks_timestamps_of_any_length_are_refused_not_raised(stamp: str) -> None:
    headers = {**standard_headers(BC_BODY, SECRET.encode()), "webhook-timestamp": stamp}
    assert "Unix time" in refused(verify_delivery(connection("bigcommerce"), headers, BC_BODY, NOW))


def test_header_text_that_is_not_utf_8_is_refused_not_raised() -> None:
    # aiohttp hands undecodable header bytes on as surrogates (surrogateescape); lone surrogates outside that range
    # cannot even be encoded that way.
    for odd in ("msg_\udcff", "\ud800", "é\u2028"):
        for name in ("webhook-id", "webhook-signature"):
            headers = {**standard_headers(BC_BODY, SECRET.encode()), name: odd}
            refused(verify_delivery(connection("bigcommerce"), headers, BC_BODY, NOW))
        refused(verify_delivery(connection("shopify"), {**shopify_headers(BC_BODY), "X-Shopify-Hmac-Sha256": odd},
                                BC_BODY, NOW))


def test_a_non_utf_8_webhook_id_signed_byte_for_byte_verifies() -> None:
    raw_id = b"msg_\xff"
    stamp = str(int(NOW.timestamp()))
    signature = "v1," + b64_hmac(SECRET.encode(), raw_id + f".{stamp}.".encode() + BC_BODY)
    headers = {"webhook-id": raw_id.decode("utf-8", "surrogateescape"), "webhook-timestamp": stamp,
               "webhook-signature": signature}
    assert isinstance(verify_delivery(connection("bigcommerce"), headers, BC_BODY, NOW), Accepted)


@pytest.mark.parametrize("body", [b"[" * 200_000 + b"]" * 200_000, b'{"order_id": ' + b"[" * 100_000 + b"}",
                                  b'{"id": 1e400}', b'{"id": NaN}', b'{"id": ' + b"1" * 5000 + b"}"])
def test_signed_bodies_nested_too_deep_or_with_odd_numbers_name_no_order(body: bytes) -> None:
    for platform, headers in (("shopify", shopify_headers(body)), ("woocommerce", woo_headers(body))):
        verdict = verify_delivery(connection(platform), headers, body, NOW)
        assert isinstance(verdict, Accepted) and verdict.order_ref is None, platform
    verdict = verify_delivery(connection("bigcommerce"), standard_headers(body, SECRET.encode()), body, NOW)
    assert isinstance(verdict, Accepted) and verdict.order_ref is None


@pytest.mark.parametrize("data", [{"type": "order", "id": 1e400}, {"type": "order", "id": float("nan")},
                                  {"type": "shipment", "id": 1, "orderId": -1e400}])
def test_bigcommerce_signed_numbers_no_id_can_be_name_no_order(data: dict[str, Any]) -> None:
    for created in (1561482857, 10**20, -(10**20)):
        body = json.dumps({"scope": "store/order/updated", "data": data, "hash": "h", "created_at": created}).encode()
        verdict = verify_delivery(connection("bigcommerce"), standard_headers(body, SECRET.encode()), body, NOW)
        assert isinstance(verdict, Accepted) and verdict.order_ref is None
    body = json.dumps({"scope": "store/order/updated", "data": {"type": "order", "id": 5}, "hash": "h",
                       "created_at": 10**20}).encode()
    verdict = verify_delivery(connection("bigcommerce"), standard_headers(body, SECRET.encode()), body, NOW)
    assert isinstance(verdict, Accepted) and verdict.order_ref is None


class HmacCounter:
    """Counts `connectors.webhook_signatures.hmac_sha256_b64` calls and the message lengths they signed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from connectors import webhook_signatures

        self.lengths: list[int] = []
        real = webhook_signatures.hmac_sha256_b64

        def counting(key: bytes, message: bytes) -> bytes:
            self.lengths.append(len(message))
            return real(key, message)

        monkeypatch.setattr(webhook_signatures, "hmac_sha256_b64", counting)


PARITY_BODY = b'{"id": 1, "padding": "' + b"x" * 4000 + b'"}'


@pytest.mark.parametrize(("target", "headers"), [
    ("unknown", shopify_headers(PARITY_BODY)),
    ("unknown", {}),
    ("shopify-no-secret", shopify_headers(PARITY_BODY)),
    ("shopify-empty-secret", {}),
    ("magento2", shopify_headers(PARITY_BODY)),
    ("manual", {}),
    ("shopify", shopify_headers(PARITY_BODY, secret="wrong")),
    ("shopify", {}),
    ("woocommerce", woo_headers(PARITY_BODY, secret="wrong")),
    ("woocommerce", {}),
    ("bigcommerce", standard_headers(PARITY_BODY, b"wrong")),
    ("bigcommerce", {}),
    ("bigcommerce", standard_headers(PARITY_BODY, SECRET.encode(), at=NOW - timedelta(hours=1))),
    ("bigcommerce", {**standard_headers(PARITY_BODY, SECRET.encode()), "webhook-timestamp": "1" * 400}),
    ("bigcommerce-bad-whsec", standard_headers(PARITY_BODY, SECRET.encode())),
])
def test_every_refusal_computes_one_hmac_over_the_body(monkeypatch: pytest.MonkeyPatch, target: str,
                                                       headers: dict[str, str]) -> None:
    chosen = {"unknown": None, "shopify-no-secret": connection("shopify", None),
              "shopify-empty-secret": connection("shopify", ""),
              "bigcommerce-bad-whsec": connection("bigcommerce", "whsec_not*base64!")}
    target_connection = chosen[target] if target in chosen else connection(target)
    counter = HmacCounter(monkeypatch)
    refused(verify_delivery(target_connection, headers, PARITY_BODY, NOW))
    assert len(counter.lengths) == 1, counter.lengths
    assert counter.lengths[0] >= len(PARITY_BODY)


def test_an_accepted_delivery_computes_one_hmac_too(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = HmacCounter(monkeypatch)
    assert isinstance(verify_delivery(connection("shopify"), shopify_headers(PARITY_BODY), PARITY_BODY, NOW),
                      Accepted)
    assert counter.lengths == [len(PARITY_BODY)]


def test_replay_keys_are_the_body_digest_for_shopify_and_woocommerce_only() -> None:
    for platform, headers in (("shopify", shopify_headers(BC_BODY)), ("woocommerce", woo_headers(BC_BODY))):
        verdict = verify_delivery(connection(platform), headers, BC_BODY, NOW)
        assert isinstance(verdict, Accepted) and verdict.replay_key == sha256(BC_BODY)
    verdict = verify_delivery(connection("bigcommerce"), standard_headers(BC_BODY, SECRET.encode()), BC_BODY, NOW)
    assert isinstance(verdict, Accepted) and verdict.replay_key is None


# -- the replay window --------------------------------------------------------------------------------------


def test_recent_bodies_recognise_a_body_per_connection_within_the_window() -> None:
    bodies = RecentBodies(window=timedelta(minutes=10))
    assert not bodies.contains("a", "d1", NOW)
    bodies.remember("a", "d1", NOW)
    assert bodies.contains("a", "d1", NOW + timedelta(minutes=9))  # seen again: the window restarts
    assert bodies.contains("a", "d1", NOW + timedelta(minutes=18))
    assert not bodies.contains("b", "d1", NOW)
    assert not bodies.contains("a", "d1", NOW + timedelta(minutes=28, seconds=1))
    assert len(bodies) == 0


def test_recent_bodies_are_bounded_and_validate_their_arguments() -> None:
    bodies = RecentBodies(capacity=2)
    for digest in ("d1", "d2", "d3"):
        bodies.remember("a", digest, NOW)
    assert len(bodies) == 2
    assert not bodies.contains("a", "d1", NOW)
    assert bodies.contains("a", "d3", NOW)
    with pytest.raises(ValueError, match="capacity"):
        RecentBodies(capacity=0)
    with pytest.raises(ValueError, match="window"):
        RecentBodies(window=timedelta(0))


def test_recent_deliveries_remember_long_ids_by_digest_and_contains_records_nothing() -> None:
    recent = RecentDeliveries()
    long_id = "x" * 8000
    assert not recent.contains("a", long_id)
    assert len(recent) == 0
    recent.remember("a", long_id)
    assert recent.contains("a", long_id)
    assert not recent.contains("a", long_id + "y")
    assert all(len(delivery) <= 200 for _, delivery in recent._seen)
