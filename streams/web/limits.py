"""Rate limits of `POST /webhooks/{connection_id}`: aiolimiter's leaky buckets, one per source address (checked
before the body is read) and one per configured connection (charged by authentic deliveries only).

The defaults are module constants (the configuration has no keys for them yet); `WebhookLimits` carries them
to `streams.web.webhooks.WebhookReceiver`, where tests pass smaller ones.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter

PER_ADDRESS_BURST = 100
"""Requests one source address may send at once before it is answered 429 (every request counts, whatever its
answer). Behind a reverse proxy every request shares the proxy's address: then this is the endpoint's limit."""

PER_ADDRESS_PER_S = 50.0
"""Requests per second one source address gets back after a burst."""

PER_CONNECTION_BURST = 100
"""Authentic, new deliveries one connection may have handed on at once before they are answered 429 (the
platform retries later; a burst of deliveries costs one poll anyway). Forged requests never charge it, so a
forger cannot shut out a connection's genuine deliveries."""

PER_CONNECTION_PER_S = 20.0
"""Authentic, new deliveries per second one connection gets back after a burst."""

MAX_TRACKED_ADDRESSES = 10_000
"""Source addresses with a bucket at any time; the least recently seen one is forgotten beyond that (it starts
again with a full burst), so a spray of source addresses cannot grow memory (a bucket is about 200 bytes)."""

IPV6_PREFIX = 64
"""IPv6 sources are limited per /64 network: one host commonly holds a whole /64, and counting its addresses
one by one would let it spray past the per-address limit."""


@dataclass(frozen=True)
class RateLimit:
    """A leaky bucket's shape: `burst` requests at once, then `per_second`. Raises ValueError when either is not
    positive."""

    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or not self.per_second > 0:
            raise ValueError("a rate limit needs a burst of at least 1 and a positive rate")

    @property
    def retry_after_s(self) -> int:
        """The `Retry-After` of a refusal, in whole seconds (at least 1): when one more request fits."""
        return max(1, math.ceil(1 / self.per_second))

    def bucket(self) -> AsyncLimiter:
        """A new, full bucket of this shape."""
        return AsyncLimiter(self.burst, self.burst / self.per_second)


@dataclass(frozen=True)
class WebhookLimits:
    """The receiver's rate limits (defaults: the module constants)."""

    per_address: RateLimit = field(default_factory=lambda: RateLimit(PER_ADDRESS_BURST, PER_ADDRESS_PER_S))
    per_connection: RateLimit = field(default_factory=lambda: RateLimit(PER_CONNECTION_BURST, PER_CONNECTION_PER_S))
    max_tracked_addresses: int = MAX_TRACKED_ADDRESSES


class KeyedLimiter:
    """One bucket of `limit`'s shape per key, at most `max_keys` of them (least recently used forgotten first).

    Must be used from one event loop (aiolimiter binds a bucket to the loop that first uses it). Raises
    ValueError for `max_keys` below 1."""

    def __init__(self, limit: RateLimit, max_keys: int) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.limit = limit
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def try_acquire(self, key: str) -> bool:
        """Take one request from `key`'s bucket and answer True, or answer False (taking nothing) when it is
        empty. Never waits: `acquire` is only called once the bucket has room, where aiolimiter does not yield."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = self.limit.bucket()
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        if not bucket.has_capacity():
            return False
        await bucket.acquire()
        return True


def address_key(remote: str | None) -> str:
    """The bucket key of a source address: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 as its /64 network;
    `-` when the transport has no peer address (a Unix socket), anything unparsable cut to 64 characters."""
    if not remote:
        return "-"
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return remote[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)
