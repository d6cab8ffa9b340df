"""Operational output: structured logs (JSON lines) and Prometheus metrics (text exposition format 0.0.4).

Metrics are read, not pushed: each component keeps plain counters, and the daemon registers a *collector*
per component that turns them into samples when ``/metrics`` is scraped. No metrics library needed.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

Labels = dict[str, str]


@dataclass(slots=True)
class Family:
    name: str
    kind: str  # "counter" or "gauge"
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, float(value)))
        return self


Collector = Callable[[], Iterable[Family]]


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


class Registry:
    def __init__(self, prefix: str = "cti_") -> None:
        self.prefix = prefix
        self._collectors: list[Collector] = []

    def register(self, collector: Collector) -> None:
        self._collectors.append(collector)

    def render(self) -> str:
        merged: dict[str, Family] = {}
        for collect in self._collectors:
            for fam in collect():
                into = merged.setdefault(fam.name, Family(fam.name, fam.kind, fam.help))
                into.samples.extend(fam.samples)
        lines: list[str] = []
        for fam in merged.values():
            name = self.prefix + fam.name
            lines.append(f"# HELP {name} {fam.help}")
            lines.append(f"# TYPE {name} {fam.kind}")
            for labels, value in fam.samples:
                if labels:
                    body = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(labels.items()))
                    lines.append(f"{name}{{{body}}} {_number(value)}")
                else:
                    lines.append(f"{name} {_number(value)}")
        return "\n".join(lines) + "\n"


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
