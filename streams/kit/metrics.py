"""Where the worker's Prometheus metrics live, and how each one is made once.

**One registry: prometheus_client's default (`prometheus_client.REGISTRY`).** It holds every `fulfillsync_*` metric
and the client's default collectors: `process_*` (CPU seconds, resident memory, open file descriptors, start time),
`python_info` (the platform: implementation and version) and `python_gc_*` (garbage collections per generation).
`/metrics` of the worker (`streams.web.health`) serves it; `WiringContext.registry` is this registry unless a test
hands it another one.

**One metric per name and registry.** A registry refuses a second metric of a name it already has ("Duplicated
timeseries"), and tests build several worker apps in one process. So the worker's metrics classes do not call the
metric constructors themselves but `counter`, `gauge` and `histogram` below: the first call for a name in a registry
makes the metric, every later call with the same definition (kind, label names, buckets) returns that same object,
and a different definition under a taken name is a bug (ValueError). Apps built in one process therefore share
their metrics, as one process has one `/metrics`: that is also what a worker process is (one app). A test that
counts what one component did gives that component a registry of its own (`CollectorRegistry()`); every metrics
class takes one. Metrics that exist once per process whatever the app (the connectors' HTTP requests,
`connectors.http`; the lanes' backlog, `streams.kit.lanes`) are module-level objects in the default registry.

Label values are bounded everywhere: connection ids of the configuration, stages, outcomes, topics and partitions;
never an order id or anything a platform sends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import metadata
from typing import TypeVar
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

W = TypeVar("W", bound=MetricWrapperBase)

_Definition = tuple[str, tuple[str, ...], tuple[float, ...]]
_made: WeakKeyDictionary[CollectorRegistry, dict[str, tuple[_Definition, MetricWrapperBase]]] = WeakKeyDictionary()

LATENCY_BUCKETS: tuple[float, ...] = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400,
                                      259200)
"""Seconds, for waits measured in minutes to days (a seller's fulfillment reaching the buyer's store)."""


def _once(kind: type[W], name: str, labels: Sequence[str], buckets: Sequence[float],
          registry: CollectorRegistry, make: Callable[[], W]) -> W:
    definition: _Definition = (kind.__name__, tuple(labels), tuple(buckets))
    made = _made.setdefault(registry, {})
    found = made.get(name)
    if found is None:
        metric = make()
        made[name] = (definition, metric)
        return metric
    if found[0] != definition or not isinstance(found[1], kind):
        raise ValueError(f"metric {name} is already defined as {found[0]}, not {definition}")
    return found[1]


def counter(name: str, documentation: str, labels: Sequence[str] = (), *,
            registry: CollectorRegistry = REGISTRY) -> Counter:
    """The counter `name` of `registry` (exposed as `name_total`), made on first use (module docstring)."""
    return _once(Counter, name, labels, (), registry,
                 lambda: Counter(name, documentation, list(labels), registry=registry))


def gauge(name: str, documentation: str, labels: Sequence[str] = (), *,
          registry: CollectorRegistry = REGISTRY) -> Gauge:
    """The gauge `name` of `registry`, made on first use (module docstring)."""
    return _once(Gauge, name, labels, (), registry, lambda: Gauge(name, documentation, list(labels), registry=registry))


def histogram(name: str, documentation: str, labels: Sequence[str] = (), *, buckets: Sequence[float],
              registry: CollectorRegistry = REGISTRY) -> Histogram:
    """The histogram `name` of `registry` with these bucket bounds (`+Inf` added), made on first use (module
    docstring)."""
    return _once(Histogram, name, labels, buckets, registry,
                 lambda: Histogram(name, documentation, list(labels), registry=registry, buckets=list(buckets)))


def version() -> str:
    """The installed fulfillsync's version (pyproject.toml), or `unknown` when it is not installed as a package."""
    try:
        return metadata.version("fulfillsync")
    except metadata.PackageNotFoundError:
        return "unknown"


def publish_build_info(registry: CollectorRegistry = REGISTRY) -> None:
    """`fulfillsync_build_info{version}` = 1: which version a worker runs (join it onto other series by instance)."""
    gauge("fulfillsync_build_info", "1, labelled with the version of fulfillsync this process runs", ["version"],
          registry=registry).labels(version()).set(1)
