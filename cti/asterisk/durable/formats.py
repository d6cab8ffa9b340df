"""Asterisk's durable logs, as Asterisk writes them: queue_log, CDR and CEL rows (pure: text in, records out).

Three sources, one record type each:

* **queue_log** (app_queue): ``<epoch>|<callid>|<queue>|<agent>|<event>|<data1>|...`` in the file, or the
  realtime table of ``res_config_pgsql`` (``time, callid, queuename, agent, event, data1..data5``).
* **CDR**: ``cdr_csv``'s ``Master.csv`` with ``newcdrcolumns = yes`` (the transcripts' ``*.cdr.csv``:
  accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start, answer, end,
  duration, billsec, disposition, amaflags, uniqueid, userfield, peeraccount, linkedid, sequence), or the
  ``cdr_pgsql`` table (``calldate`` = start; ``duration`` and ``billsec`` give end and answer).
* **CEL**: ``cel_custom``'s default ``Master.csv`` template (eventtype, eventtime, cid_name, cid_num,
  cid_ani, cid_rdnis, cid_dnid, exten, context, channame, appname, appdata, amaflags, accountcode,
  uniqueid, linkedid, bridgepeer, userfield, userdeftype, eventextra), or the ``cel_pgsql`` table.

Parsing is defensive: a row that cannot be read is returned as a :class:`BadRow` (source, line, reason)
and the others are kept. Nothing here raises on bad input.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# cdr_csv with newcdrcolumns = yes (cdr/cdr_csv.c, build_csv_record)
CDR_CSV_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
)
# cdr_pgsql's sample table (contrib/scripts: calldate is the start; no answer/end columns)
CDR_PGSQL_COLUMNS = (
    "calldate",
    "clid",
    "src",
    "dst",
    "dcontext",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "accountcode",
    "uniqueid",
    "userfield",
    "peeraccount",
    "linkedid",
    "sequence",
)
# cel_custom's default Master.csv template (configs/samples/cel_custom.conf.sample)
CEL_CSV_COLUMNS = (
    "eventtype",
    "eventtime",
    "cid_name",
    "cid_num",
    "cid_ani",
    "cid_rdnis",
    "cid_dnid",
    "exten",
    "context",
    "channame",
    "appname",
    "appdata",
    "amaflags",
    "accountcode",
    "uniqueid",
    "linkedid",
    "peer",
    "userfield",
    "userdeftype",
    "extra",
)
# cel_pgsql's table (cel/cel_pgsql.c reads the columns of the table and fills those it knows)
CEL_PGSQL_COLUMNS = (
    "eventtype",
    "eventtime",
    "userdeftype",
    "cid_name",
    "cid_num",
    "cid_ani",
    "cid_rdnis",
    "cid_dnid",
    "exten",
    "context",
    "channame",
    "appname",
    "appdata",
    "amaflags",
    "accountcode",
    "peeraccount",
    "uniqueid",
    "linkedid",
    "userfield",
    "peer",
    "extra",
)
# the realtime queue_log table (res_config_pgsql through extconfig.conf: queue_log => pgsql,...)
QUEUE_LOG_COLUMNS = (
    "time",
    "callid",
    "queuename",
    "agent",
    "event",
    "data1",
    "data2",
    "data3",
    "data4",
    "data5",
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class BadRow:
    source: str  # "queue_log", "cdr", "cel"
    line: int  # 1-based line (files) or row id (tables)
    reason: str


@dataclass(frozen=True, slots=True)
class QueueLogEntry:
    time: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CdrRecord:
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    duration: int
    billsec: int
    disposition: str
    uniqueid: str
    linkedid: str
    sequence: int


@dataclass(frozen=True, slots=True)
class CelRecord:
    eventtype: str
    eventtime: float
    cid_name: str
    cid_num: str
    exten: str
    context: str
    channame: str
    appname: str
    uniqueid: str
    linkedid: str
    peer: str


class RowError(ValueError):
    pass


def parse_time(value: str | float | int | datetime | None) -> float | None:
    """Asterisk's times: epoch seconds (``1795362992`` or ``1795362992.123456``), ``YYYY-MM-DD HH:MM:SS``
    (GMT, as with ``usegmtime``), a driver's datetime (naive = UTC); empty = none."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, int | float):
        return float(value)
    v = value.strip()
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return datetime.strptime(v[:19], TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise RowError(f"bad time {v[:40]!r}") from None


def _required_time(value: Any, what: str) -> float:
    t = parse_time(value)
    if t is None:
        raise RowError(f"no {what}")
    return t


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value).strip() or 0)
    except ValueError:
        raise RowError(f"bad {what} {str(value)[:20]!r}") from None


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# ---- queue_log ------------------------------------------------------------------------------------------
def queue_log_line(line: str) -> QueueLogEntry:
    f = line.rstrip("\r\n").split("|")
    if len(f) < 5:
        raise RowError(f"{len(f)} fields, expected at least 5")
    t = parse_time(f[0])
    if t is None or not f[1] or not f[4]:
        raise RowError("empty time, callid or event")
    return QueueLogEntry(t, f[1], f[2], f[3], f[4], tuple(f[5:]))


def queue_log_row(row: Mapping[str, Any]) -> QueueLogEntry:
    """One row of the realtime table. ``data`` (one column, ``|``-separated, older schemas) or data1..5."""
    if row.get("data") is not None and row.get("data1") is None:
        data = tuple(_text(row["data"]).split("|"))
    else:
        data = tuple(_text(row.get(f"data{i}")) for i in range(1, 6))
        while data and not data[-1]:
            data = data[:-1]
    callid, event = _text(row.get("callid")), _text(row.get("event"))
    if not callid or not event:
        raise RowError("empty callid or event")
    return QueueLogEntry(
        _required_time(row.get("time"), "time"),
        callid,
        _text(row.get("queuename")),
        _text(row.get("agent")),
        event,
        data,
    )


# ---- CDR ------------------------------------------------------------------------------------------------
def cdr_fields(fields: Mapping[str, Any], *, pgsql: bool = False) -> CdrRecord:
    duration = _int(fields.get("duration"), "duration")
    billsec = _int(fields.get("billsec"), "billsec")
    if duration < 0 or billsec < 0 or billsec > duration:
        raise RowError(f"duration {duration}, billsec {billsec}")
    if pgsql:
        start = _required_time(fields.get("calldate"), "calldate")
        end = start + duration
        answer = end - billsec if billsec or _text(fields.get("disposition")) == "ANSWERED" else None
    else:
        start = _required_time(fields.get("start"), "start")
        end = _required_time(fields.get("end"), "end")
        answer = parse_time(fields.get("answer"))
        if end < start:
            raise RowError("end before start")
    uniqueid = _text(fields.get("uniqueid"))
    if not uniqueid:
        raise RowError("no uniqueid")
    return CdrRecord(
        src=_text(fields.get("src")),
        dst=_text(fields.get("dst")),
        dcontext=_text(fields.get("dcontext")),
        clid=_text(fields.get("clid")),
        channel=_text(fields.get("channel")),
        dstchannel=_text(fields.get("dstchannel")),
        lastapp=_text(fields.get("lastapp")),
        lastdata=_text(fields.get("lastdata")),
        start=start,
        answer=answer,
        end=end,
        duration=duration,
        billsec=billsec,
        disposition=_text(fields.get("disposition")),
        uniqueid=uniqueid,
        linkedid=_text(fields.get("linkedid")) or uniqueid,
        sequence=_int(fields.get("sequence"), "sequence"),
    )


# ---- CEL ------------------------------------------------------------------------------------------------
def cel_fields(fields: Mapping[str, Any]) -> CelRecord:
    eventtype, uniqueid = _text(fields.get("eventtype")), _text(fields.get("uniqueid"))
    if not eventtype or not uniqueid:
        raise RowError("no eventtype or uniqueid")
    return CelRecord(
        eventtype=eventtype,
        eventtime=_required_time(fields.get("eventtime"), "eventtime"),
        cid_name=_text(fields.get("cid_name")),
        cid_num=_text(fields.get("cid_num")),
        exten=_text(fields.get("exten")),
        context=_text(fields.get("context")),
        channame=_text(fields.get("channame")),
        appname=_text(fields.get("appname")),
        uniqueid=uniqueid,
        linkedid=_text(fields.get("linkedid")) or uniqueid,
        peer=_text(fields.get("peer")),
    )


# ---- files: lines to records ----------------------------------------------------------------------------
@dataclass(slots=True)
class Parsed:
    queue_log: list[QueueLogEntry]
    cdr: list[CdrRecord]
    cel: list[CelRecord]
    bad: list[BadRow]

    @classmethod
    def empty(cls) -> Parsed:
        return cls([], [], [], [])

    def extend(self, other: Parsed) -> None:
        self.queue_log += other.queue_log
        self.cdr += other.cdr
        self.cel += other.cel
        self.bad += other.bad


def parse_queue_log_lines(lines: Iterable[str], first_line: int = 1) -> Parsed:
    out = Parsed.empty()
    for n, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            out.queue_log.append(queue_log_line(line))
        except RowError as e:
            out.bad.append(BadRow("queue_log", n, str(e)))
    return out


def _csv_rows(
    source: str, lines: Iterable[str], columns: tuple[str, ...], first_line: int
) -> Iterable[tuple[int, dict[str, str]] | BadRow]:
    for n, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            row = next(csv.reader([line]))
        except (csv.Error, StopIteration) as e:
            yield BadRow(source, n, f"not CSV: {e}")
            continue
        if len(row) != len(columns):
            yield BadRow(source, n, f"{len(row)} fields, expected {len(columns)}")
            continue
        yield n, dict(zip(columns, row, strict=True))


def parse_cdr_csv(lines: Iterable[str], first_line: int = 1) -> Parsed:
    out = Parsed.empty()
    for item in _csv_rows("cdr", lines, CDR_CSV_COLUMNS, first_line):
        if isinstance(item, BadRow):
            out.bad.append(item)
            continue
        try:
            out.cdr.append(cdr_fields(item[1]))
        except RowError as e:
            out.bad.append(BadRow("cdr", item[0], str(e)))
    return out


def parse_cel_csv(lines: Iterable[str], first_line: int = 1) -> Parsed:
    out = Parsed.empty()
    for item in _csv_rows("cel", lines, CEL_CSV_COLUMNS, first_line):
        if isinstance(item, BadRow):
            out.bad.append(item)
            continue
        try:
            out.cel.append(cel_fields(item[1]))
        except RowError as e:
            out.bad.append(BadRow("cel", item[0], str(e)))
    return out


# ---- writing (the simulated Asterisk) -------------------------------------------------------------------
def csv_quote(value: object) -> str:
    """``CSV_QUOTE()``: always quoted, inner quotes doubled (cdr_csv quotes every text field the same way)."""
    return '"' + str(value).replace('"', '""') + '"'


def format_time(t: float | None) -> str:
    return "" if t is None else datetime.fromtimestamp(int(t), UTC).strftime(TIME_FORMAT)


def cdr_csv_line(r: CdrRecord) -> str:
    """One Master.csv line as cdr_csv writes it (numbers bare, text quoted)."""
    text = [
        "",
        r.src,
        r.dst,
        r.dcontext,
        r.clid,
        r.channel,
        r.dstchannel,
        r.lastapp,
        r.lastdata,
        format_time(r.start),
        format_time(r.answer),
        format_time(r.end),
    ]
    tail = [r.disposition, "DOCUMENTATION", r.uniqueid, "", "", r.linkedid]
    return ",".join(
        [*map(csv_quote, text), str(r.duration), str(r.billsec), *map(csv_quote, tail), str(r.sequence)]
    )


def cel_csv_line(r: CelRecord) -> str:
    values = [
        r.eventtype,
        f"{r.eventtime:.6f}",
        r.cid_name,
        r.cid_num,
        r.cid_num,
        "",
        "",
        r.exten,
        r.context,
        r.channame,
        r.appname,
        "",
        "3",
        "",
        r.uniqueid,
        r.linkedid,
        r.peer,
        "",
        "",
        "",
    ]
    return ",".join(map(csv_quote, values))


def cdr_pgsql_values(r: CdrRecord) -> dict[str, Any]:
    return {
        "calldate": datetime.fromtimestamp(int(r.start), UTC).replace(tzinfo=None),
        "clid": r.clid,
        "src": r.src,
        "dst": r.dst,
        "dcontext": r.dcontext,
        "channel": r.channel,
        "dstchannel": r.dstchannel,
        "lastapp": r.lastapp,
        "lastdata": r.lastdata,
        "duration": r.duration,
        "billsec": r.billsec,
        "disposition": r.disposition,
        "amaflags": 3,
        "accountcode": "",
        "uniqueid": r.uniqueid,
        "userfield": "",
        "peeraccount": "",
        "linkedid": r.linkedid,
        "sequence": r.sequence,
    }


def cel_pgsql_values(r: CelRecord) -> dict[str, Any]:
    return {
        "eventtype": r.eventtype,
        "eventtime": datetime.fromtimestamp(r.eventtime, UTC).replace(tzinfo=None),
        "userdeftype": "",
        "cid_name": r.cid_name,
        "cid_num": r.cid_num,
        "cid_ani": r.cid_num,
        "cid_rdnis": "",
        "cid_dnid": "",
        "exten": r.exten,
        "context": r.context,
        "channame": r.channame,
        "appname": r.appname,
        "appdata": "",
        "amaflags": 3,
        "accountcode": "",
        "peeraccount": "",
        "uniqueid": r.uniqueid,
        "linkedid": r.linkedid,
        "userfield": "",
        "peer": r.peer,
        "extra": "",
    }


def queue_log_pgsql_values(e: QueueLogEntry) -> dict[str, Any]:
    data = [*e.data[:5], *[""] * (5 - min(5, len(e.data)))]
    row: dict[str, Any] = {
        "time": datetime.fromtimestamp(e.time, UTC).replace(tzinfo=None),
        "callid": e.callid,
        "queuename": e.queue,
        "agent": e.agent,
        "event": e.event,
    }
    row.update({f"data{i + 1}": d for i, d in enumerate(data)})
    return row
