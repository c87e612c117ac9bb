"""What sellers' catalogs hold for the SKUs of the orders to create, cached per seller connection.

`SellerCatalogs.lookup(connection, connector, skus)` answers from the cache what it asked the seller's platform
less than `ttl` ago and asks `SellerConnector.catalog_variants` for the rest, in one call. Only SKUs the catalog
had are kept: a SKU it lacked (or had several times) is asked again every time, so a dead letter `unknown_sku` or
`ambiguous_sku` requeued after the seller fixed its catalog sees the fix at once. A cached item's price or
inventory may be up to `ttl` old; the platform checks the item itself when the order is created.

Counted in `fulfillsync_catalog_lookups_total{connection,outcome}` per SKU: `cached`, `asked` (sent to the
platform), and `missing`/`ambiguous` among those asked. Errors of the platform call propagate unchanged
(`RetryableError`, `PermanentError`): the caller's attempt handles them like any other call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from cachetools import TTLCache
from prometheus_client import CollectorRegistry

from connectors.base import SellerConnector
from schemas.platform import CatalogLookup, CatalogVariant
from streams.kit.metrics import counter

MAX_CACHED_SKUS = 100_000
"""Per worker, across connections: about 1 KB each."""


class CatalogMetrics:
    """`fulfillsync_catalog_lookups_total{connection,outcome}`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lookups = counter("fulfillsync_catalog_lookups", "SKUs looked up in sellers' catalogs for the orders "
                               "to create, by seller connection and outcome (cached, asked, missing, ambiguous)",
                               ["connection", "outcome"], registry=registry)


class SellerCatalogs:
    """The cache and its one way in (`lookup`); one per worker, shared by every seller connection."""

    def __init__(self, *, ttl_s: float, metrics: CatalogMetrics,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self._found: TTLCache[tuple[str, str], tuple[CatalogVariant, ...]] = TTLCache(
            maxsize=MAX_CACHED_SKUS, ttl=ttl_s, timer=timer)
        self._currency: TTLCache[str, str] = TTLCache(maxsize=10_000, ttl=ttl_s, timer=timer)
        self._metrics = metrics

    async def lookup(self, connection: str, connector: SellerConnector, skus: Sequence[str]) -> CatalogLookup:
        """What `connection`'s catalog holds for `skus` (module docstring). Raises what the connector raises."""
        found: dict[str, tuple[CatalogVariant, ...]] = {}
        wanted = []
        for sku in dict.fromkeys(skus):
            cached = self._found.get((connection, sku))
            if cached is None:
                wanted.append(sku)
            else:
                found[sku] = cached
        currency = self._currency.get(connection)
        self._count(connection, "cached", len(found))
        if wanted or currency is None:
            answer = await connector.catalog_variants(wanted)
            currency = answer.currency
            self._currency[connection] = currency
            self._count(connection, "asked", len(wanted))
            for sku in wanted:
                variants = answer.variants.get(sku, ())
                found[sku] = variants
                if len(variants) == 1:
                    self._found[(connection, sku)] = variants
                else:
                    self._count(connection, "ambiguous" if variants else "missing", 1)
        return CatalogLookup(currency=currency, variants=found)

    def _count(self, connection: str, outcome: str, skus: int) -> None:
        if skus:
            self._metrics.lookups.labels(connection, outcome).inc(skus)
