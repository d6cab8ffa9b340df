"""The simulated Asterisk's CDR and CEL, in Asterisk's own formats (the records the repair reads).

``CallLogs`` is told by the PBX model when a channel starts, answers, enters or leaves a bridge and hangs
up; it keeps the records in memory (``cdr``, ``cel``), appends them to ``cdr_csv``'s Master.csv and
``cel_custom``'s Master.csv when paths are given (flushed per line, so a reader can follow them live), and
hands every record to its ``listeners`` (the PostgreSQL sink of ``cti.sim.pgsink``).

One CDR row per channel, written when it hangs up (start, answer, end, duration, billsec, disposition,
the bridge peer as dstchannel, the last application, the final Linkedid): the shape of the transcripts'
``*.cdr.csv``, simplified where Asterisk splits a channel's CDR at each bridge change (a channel that is
bridged twice has one row here). CEL: CHAN_START, ANSWER, BRIDGE_ENTER, BRIDGE_EXIT, HANGUP, CHAN_END and
LINKEDID_END when the last channel of a Linkedid is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cti.asterisk.durable.formats import CdrRecord, CelRecord, cdr_csv_line, cel_csv_line

if TYPE_CHECKING:
    from cti.sim.channels import Channel

OUTGOING_LINES = ("AppQueue", "AppDial2")  # app_queue's and Dial's outgoing channels
CAUSE_DISPOSITION = {17: "BUSY", 34: "CONGESTION", 38: "CONGESTION", 21: "FAILED"}


class CallLogs:
    def __init__(self, cdr_path: str | Path | None = None, cel_path: str | Path | None = None) -> None:
        self.cdr: list[CdrRecord] = []
        self.cel: list[CelRecord] = []
        self.listeners: list[Callable[[CdrRecord | CelRecord], None]] = []
        self._cdr_file: TextIO | None = open(cdr_path, "a", encoding="utf-8") if cdr_path else None
        self._cel_file: TextIO | None = open(cel_path, "a", encoding="utf-8") if cel_path else None
        self._sequence = 0
        self._answered: dict[str, float] = {}  # uniqueid -> when it answered
        self._peer: dict[str, str] = {}  # uniqueid -> the first channel it was bridged with

    # ---- what the PBX tells -----------------------------------------------------------------------------
    def start(self, ch: Channel, now: float) -> None:
        self._cel_event("CHAN_START", ch, now)

    def answer(self, ch: Channel, now: float) -> None:
        if ch.uniqueid not in self._answered:
            self._answered[ch.uniqueid] = now
            self._cel_event("ANSWER", ch, now)

    def bridge_enter(self, ch: Channel, others: list[Channel], now: float) -> None:
        peer = others[0].name if others else ""
        if peer:
            self._peer.setdefault(ch.uniqueid, peer)
            for other in others:
                self._peer.setdefault(other.uniqueid, ch.name)
        self._cel_event("BRIDGE_ENTER", ch, now, peer)

    def bridge_exit(self, ch: Channel, now: float) -> None:
        self._cel_event("BRIDGE_EXIT", ch, now)

    def hangup(self, ch: Channel, cause: int, now: float, linkedid_over: bool) -> None:
        self._cel_event("HANGUP", ch, now)
        answered = self._answered.pop(ch.uniqueid, None)
        if (
            ch.app in OUTGOING_LINES
        ):  # the dialled party: the dstchannel of its caller's row, no row of its own
            self._peer.pop(ch.uniqueid, None)
            self._end(ch, now, linkedid_over)
            return
        end = int(now)
        disposition = "ANSWERED" if answered is not None else CAUSE_DISPOSITION.get(cause, "NO ANSWER")
        self._sequence += 1
        row = CdrRecord(
            src=ch.cid_num,
            dst=ch.exten,
            dcontext=ch.context,
            clid=f'"{ch.cid_name}" <{ch.cid_num}>' if ch.cid_name else ch.cid_num,
            channel=ch.name,
            dstchannel=self._peer.pop(ch.uniqueid, ""),
            lastapp=ch.app,
            lastdata=ch.appdata,
            start=float(int(ch.created)),
            answer=float(int(answered)) if answered is not None else None,
            end=float(end),
            duration=end - int(ch.created),
            billsec=end - int(answered) if answered is not None else 0,
            disposition=disposition,
            uniqueid=ch.uniqueid,
            linkedid=ch.linkedid,
            sequence=self._sequence,
        )
        self.cdr.append(row)
        if self._cdr_file is not None:
            self._cdr_file.write(cdr_csv_line(row) + "\n")
            self._cdr_file.flush()
        for listener in self.listeners:
            listener(row)
        self._end(ch, now, linkedid_over)

    def _end(self, ch: Channel, now: float, linkedid_over: bool) -> None:
        self._cel_event("CHAN_END", ch, now)
        if linkedid_over:
            self._cel_event("LINKEDID_END", ch, now)

    # ---- output -----------------------------------------------------------------------------------------
    def _cel_event(self, eventtype: str, ch: Channel, now: float, peer: str = "") -> None:
        rec = CelRecord(
            eventtype=eventtype,
            eventtime=now,
            cid_name=ch.cid_name,
            cid_num=ch.cid_num,
            exten=ch.exten,
            context=ch.context,
            channame=ch.name,
            appname=ch.app,
            uniqueid=ch.uniqueid,
            linkedid=ch.linkedid,
            peer=peer,
        )
        self.cel.append(rec)
        if self._cel_file is not None:
            self._cel_file.write(cel_csv_line(rec) + "\n")
            self._cel_file.flush()
        for listener in self.listeners:
            listener(rec)

    def close(self) -> None:
        for f in (self._cdr_file, self._cel_file):
            if f is not None:
                f.close()
        self._cdr_file = self._cel_file = None
