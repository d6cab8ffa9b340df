"""E-mail task metrics per agent (pure; definitions in docs/metrics.md, "E-mail tasks")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EmailTask:
    agent: str  # the agent it was offered to ("" if never offered)
    received: float
    deadline: float
    offered: float | None = None
    answered: float | None = None  # the reply was sent
    closed: float | None = None  # disposition filed


@dataclass(frozen=True, slots=True)
class EmailAgentMetrics:
    agent: str
    offered: int
    answered: int
    answered_in_deadline: int
    handle_time: float  # mean seconds from offer to disposition, over closed tasks


def email_metrics(tasks: Iterable[EmailTask]) -> list[EmailAgentMetrics]:
    per: dict[str, list[EmailTask]] = {}
    for t in tasks:
        if t.offered is not None:
            per.setdefault(t.agent, []).append(t)
    out = []
    for agent in sorted(per):
        ts = per[agent]
        answered = [t for t in ts if t.answered is not None]
        in_sl = [t for t in answered if t.answered is not None and t.answered <= t.deadline]
        handled = [t.closed - t.offered for t in ts if t.closed is not None and t.offered is not None]
        mean = sum(handled) / len(handled) if handled else 0.0
        out.append(EmailAgentMetrics(agent, len(ts), len(answered), len(in_sl), mean))
    return out
