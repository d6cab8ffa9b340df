"""On every shared transcript, `cti replay --summary` agrees with Asterisk's own queue_log, by the same
definitions (cti/reports/metrics.py): the queue_log's visits are turned into legs and measured by
``queue_stats``, and the figures are compared queue by queue.

queue_log has whole seconds (``time(NULL)``), the AMI stream microseconds, so counts and service levels
must be equal and the means (ASA, AHT, wait) agree within 1 s (docs/metrics.md, "Where Asterisk's own logs
disagree").
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cti.cli import main
from cti.core.ids import AgentId, QueueName, UniqueId
from cti.core.journey import LegOutcome, QueueLeg
from cti.reports.metrics import queue_stats
from tests.asterisk.asterisk_logs import LoggedLeg, parse_queue_log
from tests.conftest import TRANSCRIPTS

NAMES = sorted(p.stem for p in TRANSCRIPTS.glob("*.ami")) if TRANSCRIPTS.is_dir() else ["(none)"]
COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "timed_out",
    "exited_empty",
    "transferred",
    "answered_within",
    "abandoned_within",
    "short_abandoned",
    "unanswered",
    "unanswered_within",
)
RATES = ("service_level", "sl_abandons_ignored", "sl_abandons_for", "sl_asterisk", "sl_asterisk2")
MEANS = ("avg_wait_answered", "aht", "avg_talk", "avg_wait", "avg_wait_abandoned")


def as_leg(g: LoggedLeg) -> QueueLeg:
    """A queue_log visit as a leg, in queue_log's own whole seconds."""
    assert g.outcome is not None
    return QueueLeg(
        queue=QueueName(g.queue),
        uniqueid=UniqueId(g.callid),
        entered_at=float(g.entered_at or 0),
        position=g.position or 0,
        outcome=LegOutcome(g.outcome),
        agent=AgentId(g.agent) if g.agent else None,
        ring_no_answer=[AgentId(a) for a in g.ring_no_answer],
        wait_seconds=float(g.wait or 0),
        talk_seconds=float(g.talk or 0),
    )


def summary(path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert main(["replay", str(path), "--summary", *flags]) == 0
    out: dict[str, dict[str, object]] = json.loads(io.StringIO(capsys.readouterr().out).read())
    return out


def near(logged: list[QueueLeg], queue: str, *limits: float) -> int:
    """Legs whose whole-second wait lies within 1 s of a threshold: the only ones the two clocks may put
    on different sides of it."""
    return sum(
        1 for leg in logged if leg.queue == queue and any(abs(leg.wait_seconds - t) <= 1 for t in limits)
    )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("threshold", "short"), [(20.0, 0.0), (20.0, 5.0), (2.0, 1.0)])
def test_replay_summary_equals_the_queue_log_by_the_documented_definitions(
    transcripts: Path, name: str, threshold: float, short: float, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ("--service-level", str(threshold), "--short-abandon", str(short))
    figures = summary(transcripts / f"{name}.ami", capsys, *flags)
    logged = [as_leg(g) for g in parse_queue_log(transcripts / f"{name}.queue_log") if g.outcome]
    queues = sorted({leg.queue for leg in logged})
    assert sorted(figures) == queues
    exact = 0
    for q in queues:
        truth = queue_stats(q, logged, threshold, short).to_json()
        mine = figures[q]
        slack = near(logged, q, threshold, *([short] if short else []))
        exact += slack == 0
        for key in COUNTS:
            a, b = mine[key], truth[key]
            assert isinstance(a, int) and isinstance(b, int)
            assert abs(a - b) <= (slack if key.endswith(("within", "short_abandoned")) else 0), (name, q, key)
        for key in RATES:
            if slack == 0:
                assert mine[key] == truth[key], (name, q, key)
        for key in MEANS:
            a, b = mine[key], truth[key]
            assert (a is None) == (b is None), (name, q, key)
            if isinstance(a, float) and isinstance(b, float):
                assert abs(a - b) <= 1.0, (name, q, key, a, b)
    if threshold == 20.0 and short == 0.0:
        assert exact == len(queues), "at 20 s every queue's service levels compare exactly"


def test_the_transcripts_exercise_every_outcome_the_definitions_tell_apart(transcripts: Path) -> None:
    """The agreement above is not vacuous: the transcripts hold answers, abandons and transfers."""
    outcomes = {g.outcome for n in NAMES for g in parse_queue_log(transcripts / f"{n}.queue_log")}
    assert {"answered", "abandoned", "transferred"} <= outcomes
