"""Webhook deliveries: is this request really from the connection's store, and which order does it concern?

Pure code (no I/O, the clock is passed in): `verify_delivery` turns a request's headers and raw body into a
`Verdict` — `Accepted`, `Refused` or, for WooCommerce's unsigned activation ping, `Ping`. `RecentDeliveries`
(delivery ids) and `RecentBodies` (digests of signed bodies, for the platforms that sign no timestamp) are the
bounded memories the web view uses to answer duplicates and replays without handing them on again.
Each platform's scheme is in its own package (`connectors/<platform>/webhooks.py`); the HTTP endpoint itself
lives in `streams.web.webhooks`; what each platform sends is in docs/webhooks.md.
"""

from connectors.webhook_verdicts import Accepted, Ping, Refused, Verdict
from connectors.webhooks.dedupe import DEFAULT_REPLAY_WINDOW, RecentBodies, RecentDeliveries
from connectors.webhooks.verify import DEFAULT_TOLERANCE, verify_delivery

__all__ = ["DEFAULT_REPLAY_WINDOW", "DEFAULT_TOLERANCE", "Accepted", "Ping", "RecentBodies", "RecentDeliveries",
           "Refused", "Verdict", "verify_delivery"]
