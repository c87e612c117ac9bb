"""One connector per connection for each agent that calls platforms, made on first use and closed by the worker's
stop hook (`streams.kit.context.WiringContext.connectors`), and the in-call retry policies the agents make them
with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from connectors.base import Connector, StoreConnector
from connectors.http import RetryPolicy
from connectors.registry import connector_for
from schemas.config import Connection

C = TypeVar("C", bound=Connector)

SINK_RETRY = RetryPolicy(attempts=2, initial_delay_s=0.2, max_delay_s=1.0, max_retry_after_s=5.0)
"""Sinks (writes): short in-call retries; longer waits go through a retry topic, which survives restarts."""
READ_RETRY = RetryPolicy(attempts=5, initial_delay_s=0.5, max_delay_s=4.0, max_retry_after_s=10.0)
"""Polls and seller checks (reads): a read that fails after these waits for the next tick or sweep, a poll
interval away, so it retries for up to about 15 s in-call. That holds up only the connection's own lane
(`streams.kit.lanes`: one poll per connection at a time, at most `PER_CONNECTION` checks), not other stores."""


def sink_connector(connection: Connection) -> StoreConnector:
    """The connector of `connection` with `SINK_RETRY`."""
    return connector_for(connection, retry=SINK_RETRY)


def read_connector(connection: Connection) -> StoreConnector:
    """The connector of `connection` with `READ_RETRY`."""
    return connector_for(connection, retry=READ_RETRY)


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
