"""Parsers for Asterisk's own ground truth beside each transcript: app_queue's queue_log and cdr_csv.

Test helpers only: these read the oracle the tracker is checked against, never the product's input.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# queue_log verbs that end a queue visit, and the leg outcome each one means.
ENDINGS = {
    "ABANDON": "abandoned",
    "EXITWITHTIMEOUT": "timeout",
    "EXITEMPTY": "exit-empty",
    "EXITWITHKEY": "exit-with-key",
    "COMPLETEAGENT": "answered",
    "COMPLETECALLER": "answered",
    "BLINDTRANSFER": "transferred",
    "ATTENDEDTRANSFER": "transferred",
}


@dataclass
class LoggedLeg:
    """One queue visit as queue_log tells it. ``None`` where the log holds no line for it."""

    callid: str
    queue: str
    entered_at: int | None = None
    position: int | None = None
    outcome: str | None = None
    agent: str | None = None
    ring_no_answer: list[str] = field(default_factory=list)
    wait: int | None = None
    talk: int | None = None
    bridged_uid: str | None = None


def parse_queue_log(path: Path) -> list[LoggedLeg]:
    """Queue visits in the order their first line appears. A visit with no ENTERQUEUE began before the
    recording; one with no ending is still running at its end."""
    legs: list[LoggedLeg] = []
    if not path.exists():
        return legs  # a session with no calls (login tests) has no queue_log at all
    open_: dict[tuple[str, str], LoggedLeg] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        f = line.split("|")
        t, callid, queue, agent, verb, data = int(f[0]), f[1], f[2], f[3], f[4], f[5:]
        if callid in ("NONE", "MANAGER", "REALTIME"):
            continue  # member events (PAUSE, ADDMEMBER...), not calls
        key = (callid, queue)
        leg = open_.get(key)
        if leg is None:
            leg = open_[key] = LoggedLeg(callid, queue)
            legs.append(leg)
        if verb == "ENTERQUEUE":
            leg.entered_at = t
            leg.position = int(data[2]) if len(data) > 2 and data[2] else None
        elif verb == "CONNECT":
            leg.agent, leg.wait, leg.bridged_uid = agent, int(data[0]), data[1]
        elif verb == "RINGNOANSWER":
            leg.ring_no_answer.append(agent)
        elif verb in ("COMPLETEAGENT", "COMPLETECALLER"):
            leg.outcome, leg.wait, leg.talk = ENDINGS[verb], int(data[0]), int(data[1])
        elif verb == "BLINDTRANSFER":  # extension|context|holdtime|calltime|origposition
            leg.outcome, leg.wait, leg.talk = ENDINGS[verb], int(data[2]), int(data[3])
        elif verb == "ATTENDEDTRANSFER":  # method|...|holdtime|calltime|origposition
            leg.outcome, leg.wait, leg.talk = ENDINGS[verb], int(data[-3]), int(data[-2])
        elif verb in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"):  # position|origposition|waittime
            leg.outcome, leg.wait = ENDINGS[verb], int(data[2])
            leg.position = leg.position or int(data[1])
        elif verb == "EXITWITHKEY":  # key|position|origposition|waittime
            leg.outcome, leg.wait = ENDINGS[verb], int(data[3])
        if leg.outcome is not None:
            del open_[key]
    return legs


@dataclass
class CdrRow:
    src: str
    dst: str
    dcontext: str
    channel: str
    dstchannel: str
    lastapp: str
    start: float
    answer: float | None
    end: float
    duration: int
    billsec: int
    disposition: str
    uniqueid: str
    linkedid: str


def _time(v: str) -> float | None:
    if not v:
        return None
    return datetime.strptime(v, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def parse_cdr(path: Path) -> list[CdrRow]:
    rows: list[CdrRow] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.reader(fh):
            if not r:
                continue
            start, end = _time(r[9]), _time(r[11])
            assert start is not None and end is not None
            rows.append(
                CdrRow(
                    r[1],
                    r[2],
                    r[3],
                    r[5],
                    r[6],
                    r[7],
                    start,
                    _time(r[10]),
                    end,
                    int(r[12]),
                    int(r[13]),
                    r[14],
                    r[16],
                    r[19],
                )
            )
    return rows
