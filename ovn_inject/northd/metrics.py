"""The compiler daemon's Prometheus metrics (``ovn-inject northd --metrics HOST:PORT``).

Counters the daemon keeps anyway (``Stats``) are read at scrape time; only
the pass latency is observed as it happens, as a histogram.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PASS_SECONDS = Histogram(
    "ovn_inject_northd_pass_seconds",
    "Time of one compile-and-write pass",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class DaemonCollector(Collector):
    """Passes, SB operations, hook lflows, whether this instance is active, and flows by status."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.daemon.stats
        yield CounterMetricFamily("ovn_inject_northd_passes", "Compile passes run", value=stats.passes)
        yield CounterMetricFamily(
            "ovn_inject_northd_sb_ops", "Logical_Flow rows inserted or deleted in SB", value=stats.sb_ops
        )
        yield GaugeMetricFamily("ovn_inject_northd_lflows", "Hook lflows compiled", value=stats.lflows)
        yield GaugeMetricFamily(
            "ovn_inject_northd_active",
            "1 if this instance holds the SB lock (writes), 0 if it is a standby",
            value=1 if self.daemon.sb.has_lock else 0,
        )
        flows = GaugeMetricFamily("ovn_inject_flows", "Service flows by status", labels=["status"])
        for status, count in sorted(self.daemon.flow_states().items()):
            flows.add_metric([status], count)
        yield flows
