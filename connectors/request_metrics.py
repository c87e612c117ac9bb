"""The one metric of the connectors' HTTP layer: `fulfillsync_platform_request_seconds`, a histogram of every HTTP
request a connector sends (each attempt, retries included), observed once in `connectors.http.PlatformHttp`.

Labels, each bounded: `connection` (a configured connection id), `platform`, `operation` (`operation_of`: the
GraphQL operation's name, or the method and the request path with every segment that is not a plain word replaced
by `{id}`, so order, shipment and store ids never become label values) and `outcome` (`outcome_of`). The time is
the platform's answer, from sending the request to its body read; the wait for the connection's rate limit is not
in it.

The metric is a module-level object in prometheus_client's default registry (made once per process, whatever
the number of connectors; `streams.kit.metrics` says why the worker uses that registry).
"""

from __future__ import annotations

import re
from typing import Any, Final

from prometheus_client import Histogram

from connectors.base import ConnectorError, PermanentError

REQUEST_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUEST_SECONDS: Final = Histogram(
    "fulfillsync_platform_request_seconds",
    "HTTP requests to stores' platforms (each attempt), by connection, platform, operation and outcome",
    ["connection", "platform", "operation", "outcome"], buckets=REQUEST_BUCKETS)

OUTCOMES: Final = ("ok", "rate_limited", "client_error", "server_error", "network_error", "too_large")
"""Every `outcome` label value."""

_WORD = re.compile(r"[a-z][a-z_.-]{0,39}|[vV][0-9]{1,2}")
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def operation_of(method: str, path: str, json_body: Any) -> str:
    """The `operation` label of a request: a GraphQL body's `operationName` when it is a plain name, else
    `METHOD /path` with each path segment that is not a lowercase word (or an API version such as `v3`, `V1`)
    written `{id}`: `GET /V1/orders/{id}`, `POST /wp-json/wc/v3/orders/{id}/notes`."""
    if isinstance(json_body, dict):
        name = json_body.get("operationName")
        if isinstance(name, str) and _OPERATION_NAME.fullmatch(name):
            return name
    template = "/".join(segment if not segment or _WORD.fullmatch(segment) else "{id}"
                        for segment in path.split("?", 1)[0].split("/"))
    return f"{method.upper()} {template}"


def outcome_of(error: ConnectorError) -> str:
    """The `outcome` label of a request that failed with `error` (one that answered as wanted is `ok`):
    `rate_limited` (429), `server_error` (5xx), `client_error` (another refusal), `too_large` (a body over the
    cap), or `network_error` (no answer: a timeout, a refused connection, a broken transfer)."""
    status = error.status
    if status is None:
        return "too_large" if isinstance(error, PermanentError) else "network_error"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "client_error"
