"""A single-node Apache Kafka 4 broker run from Maven Central jars, for development, tests and CI.

No Docker needed: Maven fetches the broker's jars once into a cache folder, the storage is formatted on
first start, and the broker runs as a detached Java process with a small heap: no Docker is needed.
"""

from fulfillsync.localkafka.broker import BrokerError, LocalBroker

__all__ = ["BrokerError", "LocalBroker"]
