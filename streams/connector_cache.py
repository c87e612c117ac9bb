"""One connector per connection for an agent, made on first use and closed together when the agent stops, and the
in-call retry policies the agents make them with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from connectors.base import Connector, StoreConnector
from connectors.http import RetryPolicy
from connectors.registry import connector_for
from schemas.config import Connection

C = TypeVar("C", bound=Connector)

SINK_RETRY = RetryPolicy(attempts=2, initial_delay_s=0.2, max_delay_s=1.0, max_retry_after_s=5.0)
"""Sinks and the seller check agent: short in-call retries; longer waits go through a retry topic (or the next
sweep), so a failing store does not hold up the orders of other stores."""
POLL_RETRY = RetryPolicy(attempts=2, initial_delay_s=0.5, max_delay_s=1.0, max_retry_after_s=5.0)
"""Polls: short in-call retries: a failed poll is tried again at the next tick anyway, and the poller agent polls
every connection in turn, so a failing store must not hold up the polls of the others for long."""


def sink_connector(connection: Connection) -> StoreConnector:
    """The connector of `connection` with `SINK_RETRY`."""
    return connector_for(connection, retry=SINK_RETRY)


def poll_connector(connection: Connection) -> StoreConnector:
    """The connector of `connection` with `POLL_RETRY`."""
    return connector_for(connection, retry=POLL_RETRY)


class ConnectorCache(Generic[C]):
    """Connectors by connection id; `make` builds one the first time a connection is used (and may raise, e.g.
    ValueError for a connection its platform's connector cannot use: nothing is cached then)."""

    def __init__(self, make: Callable[[Connection], C]) -> None:
        self._make = make
        self._connectors: dict[str, C] = {}

    def get(self, connection: Connection) -> C:
        connector = self._connectors.get(connection.id)
        if connector is None:
            connector = self._connectors[connection.id] = self._make(connection)
        return connector

    async def aclose(self) -> None:
        """Close every connector's HTTP client; the cache is empty afterwards."""
        connectors, self._connectors = self._connectors, {}
        for connector in connectors.values():
            await connector.aclose()
