"""Operational output: structured logs (JSON lines) and Prometheus metrics (prometheus-client).

Metrics are read, not pushed: each component keeps plain counters next to the work it counts and has a
``collect()`` that turns them into metric families when ``/metrics`` is scraped (a prometheus-client
custom collector). The daemon registers its components in its own ``CollectorRegistry`` (never the
global one: tests run several daemons in one process); the console server serves it with
``generate_latest``. Every name starts with ``cti_``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

PREFIX = "cti_"

__all__ = ["PREFIX", "Collector", "Merged", "Metric", "counter", "gauge", "new_registry", "setup_logging"]


def counter(name: str, documentation: str, value: float, **labels: str) -> CounterMetricFamily:
    """One counter sample; ``name`` ends in ``_total`` (the exposed sample name)."""
    family = CounterMetricFamily(PREFIX + name, documentation, labels=sorted(labels))
    family.add_metric([labels[k] for k in sorted(labels)], float(value))
    return family


def gauge(name: str, documentation: str, value: float, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(PREFIX + name, documentation, labels=sorted(labels))
    family.add_metric([labels[k] for k in sorted(labels)], float(value))
    return family


class Merged(Collector):
    """Components of one kind (one per Asterisk server) as one collector: their families merged by name,
    so each name gets one HELP and TYPE line and one sample per component."""

    def __init__(self, parts: Callable[[], Iterable[Collector]]) -> None:
        self.parts = parts

    def collect(self) -> Iterable[Metric]:
        merged: dict[str, Metric] = {}
        for part in self.parts():
            for family in part.collect():
                into = merged.get(family.name)
                if into is None:
                    into = merged[family.name] = Metric(family.name, family.documentation, family.type)
                into.samples.extend(family.samples)
        return merged.values()


def new_registry() -> CollectorRegistry:
    """A registry of one daemon (not prometheus-client's global one)."""
    return CollectorRegistry(auto_describe=False)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and any ``extra=`` fields."""

    _skip = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._skip and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | None) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "json", stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.Formatter.converter = time.gmtime
