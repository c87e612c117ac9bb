"""How the simulated Magento store checks who calls it: OAuth 1.0a signatures of an integration, and bearer tokens.

OAuth 1.0a, as Magento's `Webapi\\Model\\Authorization\\OauthUserContext` and `Framework\\Oauth\\Oauth` do it:
the parameters signed are the `Authorization: OAuth …` header's `oauth_*` parameters plus the query string's
parameters (names and values URL-decoded, one value per name), never a JSON body; the URL is the request's
scheme, host and raw path. Checks, in Magento's order, with its answers:
- `oauth_version`, when given, must be `1.0` (400 `The "%1" Oauth version isn't supported.`);
- every required parameter present (400 `"%fieldName" is required. Enter and try again.`);
- `oauth_signature_method` one of the store's methods (HMAC-SHA256 and HMAC-SHA1 by default; Magento 2.4.8
  accepts HMAC-SHA256 only) (400 `Signature method %1 is not supported`);
- the consumer key known (401 `A consumer having the specified key does not exist`);
- the timestamp within `TIME_DEVIATION` (600 s) of this machine's clock (400 `Incorrect timestamp value in the
  oauth_timestamp parameter`; Magento refuses only the future side, the sandbox both, so the nonces it must
  remember stay bounded), and the nonce unused by the consumer (401 `The nonce is already being used by the
  consumer with ID %1`; the nonce is spent even when the signature then fails, as in Magento);
- the token known (401 `Specified token does not exist`);
- the signature, HMAC over the RFC 5849 base string with oauthlib's signature functions (401 `The signature is
  invalid. Verify and try again.`).
Timestamps are checked against the real clock (`time.time`), not the store's settable clock: a real server's clock
does not follow the simulated business time. Magento's length checks on keys and tokens (32 characters) are not
modelled.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

from oauthlib.oauth1.rfc5849 import signature, utils

from sandbox.magento.errors import MagentoError

TIME_DEVIATION = 600
"""Seconds a timestamp may differ from the server's clock (Magento's `Nonce\\Generator::TIME_DEVIATION`)."""
CONSUMER_ID = 1
REQUIRED = ("oauth_consumer_key", "oauth_signature", "oauth_signature_method", "oauth_nonce", "oauth_timestamp",
            "oauth_token")
SIGNERS: dict[str, Callable[[str, Any], str]] = {
    "HMAC-SHA256": signature.sign_hmac_sha256_with_client, "HMAC-SHA1": signature.sign_hmac_sha1_with_client}


@dataclass(frozen=True)
class Integration:
    """The store's one integration: its consumer and its access token."""

    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str

    @property
    def client_secret(self) -> str:  # the names oauthlib's signers read
        return self.consumer_secret

    @property
    def resource_owner_secret(self) -> str:
        return self.token_secret


@dataclass
class OAuthVerifier:
    """Checks the OAuth 1.0a signature of requests made with `integration`'s credentials (None: no integration
    is configured, so every consumer key is unknown). `methods`: the signature methods accepted."""

    integration: Integration | None
    methods: frozenset[str] = frozenset(SIGNERS)
    clock: Callable[[], float] = time.time
    _nonces: dict[str, int] = field(default_factory=dict)

    def verify(self, method: str, url: str, query: str, header: str) -> None:
        """Accept the request, or raise MagentoError as Magento answers (module docstring). `url`: scheme, host
        and raw path; `query`: the raw query string; `header`: the whole Authorization header."""
        params = header_params(header)
        if "oauth_version" in params and params["oauth_version"] != "1.0":
            raise MagentoError(400, 'The "%1" Oauth version isn\'t supported.', [params["oauth_version"]])
        for name in REQUIRED:
            if name not in params:
                raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": name})
        if params["oauth_signature_method"] not in self.methods:
            raise MagentoError(400, "Signature method %1 is not supported", [params["oauth_signature_method"]])
        known = self.integration
        if known is None or not _same(params["oauth_consumer_key"], known.consumer_key):
            raise MagentoError(401, "A consumer having the specified key does not exist")
        self._spend_nonce(params["oauth_nonce"], params["oauth_timestamp"])
        if not _same(params["oauth_token"], known.token):
            raise MagentoError(401, "Specified token does not exist")
        signed = [(name, value) for name, value in params.items() if name != "oauth_signature"]
        signed += list(query_params(query).items())
        base = signature.signature_base_string(method.upper(), signature.base_string_uri(url),
                                               signature.normalize_parameters(signed))
        expected = SIGNERS[params["oauth_signature_method"]](base, known)
        if not _same(expected, params["oauth_signature"]):
            raise MagentoError(401, "The signature is invalid. Verify and try again.")

    def _spend_nonce(self, nonce: str, timestamp: str) -> None:
        now = int(self.clock())
        moment = int(timestamp) if timestamp.isdigit() else 0
        if moment <= 0 or abs(moment - now) > TIME_DEVIATION:
            raise MagentoError(400, "Incorrect timestamp value in the oauth_timestamp parameter")
        self._nonces = {seen: at for seen, at in self._nonces.items() if at >= now - TIME_DEVIATION}
        if nonce in self._nonces:
            raise MagentoError(401, "The nonce is already being used by the consumer with ID %1", [str(CONSUMER_ID)])
        self._nonces[nonce] = moment


def header_params(header: str) -> dict[str, str]:
    """The `oauth_*` parameters of an `Authorization: OAuth …` header, percent-decoded ({} for another scheme)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "oauth":
        return {}
    found: dict[str, str] = {}
    for name, value in utils.parse_keqv_list(_items(rest)).items():
        if name.startswith("oauth_"):
            found[unquote(name)] = unquote(value)
    return found


def query_params(query: str) -> dict[str, str]:
    """The query string's parameters as Magento reads them for the signature: split on `&` and the first `=`,
    URL-decoded (`+` is a space), the last value of a name winning."""
    found: dict[str, str] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            found[unquote_plus(name)] = unquote_plus(value)
    return found


def is_oauth(header: str) -> bool:
    return header.strip().lower().startswith("oauth ")


def request_url(scheme: str, host: str, raw_path: bytes) -> str:
    """The URL Magento signs: scheme, host (with a non-default port) and the path as sent (still encoded)."""
    return f"{scheme}://{host}{raw_path.decode('latin-1')}"


def _same(given: str, expected: str) -> bool:
    """A constant-time comparison that takes any text a client sends."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _items(text: str) -> Iterable[str]:
    return [item.strip() for item in utils.parse_http_list(text) if item.strip()]
