"""How a Magento connection proves who it is: a bearer token, or OAuth 1.0a signatures (chosen by its credentials).

- `credentials.access_token` alone: `Authorization: Bearer <token>`. Since Magento 2.4.4 an integration's access
  token is refused as a bearer token unless the store enables *Allow OAuth Access Tokens to be used as standalone
  Bearer tokens* (`oauth/consumer/enable_integration_as_bearer`).
- `consumer_key`, `consumer_secret`, `access_token`, `access_token_secret` (an integration's four credentials):
  every request is signed with OAuth 1.0a, HMAC-SHA256 (the only method Magento 2.4.8 accepts), by oauthlib,
  in the `Authorization: OAuth …` header, with a fresh nonce and timestamp per attempt (`MagentoOAuth1` is an
  httpx auth hook, so a retried request is signed again). Magento builds the signature base string from the
  header's `oauth_*` parameters and the query string's parameters (its `Oauth\\Helper\\Request::prepareRequest`),
  not from a JSON body, so the signed URL includes the query and no body hash is sent.

`schemas.platform_names.credentials_problem` refuses any other combination when the configuration is read;
`connection_auth` raises ValueError for one built in code. The secrets are returned for redaction, and oauthlib's
signing log (which prints the signature base string, holding the access token, at DEBUG) is kept quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER, Client

from schemas.config import Connection
from schemas.platform_names import MAGENTO_OAUTH_CREDENTIALS, credentials_problem

logging.getLogger("oauthlib").setLevel(logging.INFO)  # its DEBUG lines carry the access token


class MagentoOAuth1(httpx.Auth):
    """Signs each request with OAuth 1.0a HMAC-SHA256 (RFC 5849 as Magento checks it: header parameters plus
    query parameters; a JSON body is not signed). Never logs or keeps a signature base string."""

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str) -> None:
        self._keys = (consumer_key, consumer_secret, token, token_secret)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        consumer_key, consumer_secret, token, token_secret = self._keys
        client = Client(consumer_key, client_secret=consumer_secret, resource_owner_key=token,
                        resource_owner_secret=token_secret, signature_method=SIGNATURE_HMAC_SHA256,
                        signature_type=SIGNATURE_TYPE_AUTH_HEADER)
        _, headers, _ = client.sign(str(request.url), http_method=request.method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request


@dataclass(frozen=True)
class ConnectionAuth:
    """What `PlatformHttp` needs to authenticate one connection: a header or an auth hook, and the secrets to
    redact. `oauth`: whether requests are signed (OAuth 1.0a) rather than sent with a bearer token."""

    headers: dict[str, str]
    auth: httpx.Auth | None
    secrets: tuple[str, ...]
    oauth: bool


def connection_auth(connection: Connection) -> ConnectionAuth:
    """The connection's way of authenticating, chosen by its credential keys. Raises ValueError (naming keys,
    never values) when they are not exactly one accepted set."""
    given = connection.credentials
    problem = credentials_problem("magento2", given)
    if problem:
        raise ValueError(f"connection {connection.id!r}: {problem}")
    values = {key: secret.get_secret_value() for key, secret in given.items()}
    if all(key in values for key in MAGENTO_OAUTH_CREDENTIALS):
        keys = tuple(values[key] for key in MAGENTO_OAUTH_CREDENTIALS)
        consumer_key, consumer_secret, token, token_secret = keys
        return ConnectionAuth(headers={}, auth=MagentoOAuth1(consumer_key, consumer_secret, token, token_secret),
                              secrets=keys, oauth=True)
    token = values["access_token"]
    return ConnectionAuth(headers={"Authorization": f"Bearer {token}"}, auth=None, secrets=(token,), oauth=False)
