"""Prometheus metrics: the one place the service's metric objects live.

Most figures are counters the components keep anyway (events seen, records written, sessions
active...). They are read at scrape time by a collector, so the AMI hot path pays nothing: no
metric call per event. Only what needs a distribution is observed as it happens, once per
HTTP request and once per FastAGI session (histograms). AMI event lag is the exception: a
bucket index and an increment per event (`Lag`), no prometheus-client call.

Adding a figure, e.g. the ledger's lag: `service.metrics.gauge("callcenter_ledger_lag_seconds",
"How far the ledger reader is behind", lambda: ledger.lag)`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

Read = Callable[[], float]
ReadLabelled = Callable[[], dict[str, float]]

# Telephony latencies are milliseconds; a slow web request is seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Readings(Collector):
    """Gauges and counters whose values are read from callables when Prometheus scrapes."""

    def __init__(self) -> None:
        self._entries: list[tuple[Literal["gauge", "counter"], str, str, str | None,
                                  Read | ReadLabelled]] = []

    def add(self, kind: Literal["gauge", "counter"], name: str, documentation: str,
            read: Read | ReadLabelled, label: str | None = None) -> None:
        self._entries.append((kind, name, documentation, label, read))

    def collect(self) -> Iterator[Metric]:
        for kind, name, documentation, label, read in self._entries:
            family_type = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            if label is None:
                yield family_type(name, documentation, value=float(read()))  # type: ignore[arg-type]
                continue
            family = family_type(name, documentation, labels=[label])
            for value_label, value in read().items():  # type: ignore[union-attr]
                family.add_metric([value_label], float(value))
            yield family


class Lag(Collector):
    """How late events are handled (our clock minus the sender's stamp), as a Prometheus
    histogram kept by hand: `observe` is a bisect and an increment, cheap enough for every
    AMI event; the worst lag seen is exposed beside it."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.total = 0.0
        self.worst = 0.0

    def observe(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)  # clocks a hair apart
        self.counts[bisect_left(_BUCKETS, seconds)] += 1
        self.total += seconds
        self.worst = max(self.worst, seconds)

    def collect(self) -> Iterator[Metric]:
        cumulative, buckets = 0, []
        for bound, count in zip((*_BUCKETS, float("inf")), self.counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets,
                                    sum_value=self.total)
        yield GaugeMetricFamily(f"{self.name}_max", f"{self.documentation} (the worst)",
                                value=self.worst)


class Metrics:
    """One registry per service (tests run several services in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._readings = Readings()
        self.registry.register(self._readings)
        self.http_seconds = Histogram(
            "callcenter_http_request_duration_seconds",
            "HTTP requests by route template, until the response is sent",
            ["method", "route", "status"], buckets=_BUCKETS, registry=self.registry)
        self.agi_seconds = Histogram(
            "callcenter_agi_session_duration_seconds",
            "FastAGI sessions by route and the status the dialplan got",
            ["route", "status"], buckets=_BUCKETS, registry=self.registry)

    def lag(self, name: str, documentation: str) -> Lag:
        """A lag histogram the caller observes into (see Lag)."""
        lag = Lag(name, documentation)
        self.registry.register(lag)
        return lag

    def gauge(self, name: str, documentation: str, read: Read) -> None:
        self._readings.add("gauge", name, documentation, read)

    def gauges(self, name: str, documentation: str, label: str, read: ReadLabelled) -> None:
        """A gauge per label value, e.g. per queue: `read` returns {label value: value}."""
        self._readings.add("gauge", name, documentation, read, label)

    def counter(self, name: str, documentation: str, read: Read) -> None:
        """A counter read from a number that only grows (exposed as `<name>_total`)."""
        self._readings.add("counter", name, documentation, read)

    def observe_agi(self, route: str, status: str, seconds: float) -> None:
        self.agi_seconds.labels(route, status).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
