"""Asterisk's durable logs: the formats (against the transcripts' real files), the readers, the reconciler."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.asterisk.calls import CallTracker
from cti.asterisk.durable.formats import (
    CdrRecord,
    Parsed,
    cdr_csv_line,
    parse_cdr_csv,
    parse_cel_csv,
    parse_queue_log_lines,
)
from cti.asterisk.durable.reconcile import DurableLog, reconcile
from cti.asterisk.durable.sources import FileLogs, PgLogs
from cti.asterisk.replay import read_chunks, replay
from cti.core.events import CallEnded
from cti.core.ids import AgentId, LinkedId, UniqueId
from cti.core.journey import CallJourney, LegOutcome
from cti.sim.server import SimServer
from tests.asterisk.asterisk_logs import parse_cdr, parse_queue_log
from tests.conftest import examples

SCENARIOS = ("01-inbound-answered", "02-inbound-abandoned", "03-ring-no-answer", "06-blind-transfer")
CLOSED = ("01-inbound-answered", "02-inbound-abandoned", "06-blind-transfer")  # 03's recording ends mid-call
INBOUND = frozenset({"inbound"})


def read_logs(transcripts: Path, name: str) -> Parsed:
    out = parse_queue_log_lines((transcripts / f"{name}.queue_log").read_text(encoding="utf-8").splitlines())
    out.extend(parse_cdr_csv((transcripts / f"{name}.cdr.csv").read_text(encoding="utf-8").splitlines()))
    return out


def journeys_of(transcripts: Path, name: str) -> list[CallJourney]:
    events = replay(read_chunks(transcripts / f"{name}.ami"), CallTracker("pbx1"))
    return [e.journey for e in events if isinstance(e, CallEnded)]


# ---- formats --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*SCENARIOS, "mixed-seed1"])
def test_the_transcripts_real_cdr_and_queue_log_parse_without_a_bad_row(transcripts: Path, name: str) -> None:
    parsed = read_logs(transcripts, name)
    assert parsed.bad == []
    oracle = parse_cdr(transcripts / f"{name}.cdr.csv")
    assert [
        (r.uniqueid, r.linkedid, r.start, r.answer, r.end, r.billsec, r.disposition) for r in parsed.cdr
    ] == [(r.uniqueid, r.linkedid, r.start, r.answer, r.end, r.billsec, r.disposition) for r in oracle]
    legs = [lg for lg in parse_queue_log(transcripts / f"{name}.queue_log") if lg.outcome]
    log = DurableLog()
    log.add(parsed)
    ours = sorted(
        (lg.callid, lg.queue, lg.outcome.value, lg.agent, lg.wait, lg.talk)
        for visits in log.legs.values()
        for lg in visits
        if lg.outcome is not None
    )
    assert ours == sorted((lg.callid, lg.queue, lg.outcome, lg.agent, lg.wait, lg.talk or 0) for lg in legs)


@settings(max_examples=examples(200))
@given(st.lists(st.text(max_size=80), max_size=8))
def test_garbage_lines_are_reported_one_by_one_and_never_raise(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    nonblank = sum(1 for line in lines if line.strip())
    for parse in (parse_queue_log_lines, parse_cdr_csv, parse_cel_csv):
        out = parse(lines)
        assert len(out.queue_log) + len(out.cdr) + len(out.cel) + len(out.bad) == nonblank
        assert all(1 <= bad.line <= len(lines) and bad.reason for bad in out.bad)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)


@settings(max_examples=examples(100))
@given(
    src=text, clid=text, app=text, start=st.integers(1_600_000_000, 1_900_000_000), dur=st.integers(0, 5000)
)
def test_a_cdr_row_written_as_cdr_csv_reads_back_equal(
    src: str, clid: str, app: str, start: int, dur: int
) -> None:
    answer = float(start + 1) if dur else None
    disposition = "ANSWERED" if dur else "NO ANSWER"
    billsec = dur - 1 if dur else 0
    row = CdrRecord(
        src, "sales", "inbound", clid, "Local/x;1", "", app, "a,b", float(start), answer, float(start + dur),
        dur, billsec, disposition, "1.2", "1.0", 7,
    )  # fmt: skip
    parsed = parse_cdr_csv([cdr_csv_line(row)])
    assert parsed.bad == [] and parsed.cdr == [row]


def test_a_bad_row_is_counted_with_its_line_and_the_others_kept() -> None:
    lines = ["1795362992|1.0|sales|NONE|ENTERQUEUE||123|1", "garbage", "x|1.0|sales|NONE|ABANDON|1|1|3"]
    out = parse_queue_log_lines(lines)
    assert len(out.queue_log) == 1 and [(b.line, b.source) for b in out.bad] == [
        (2, "queue_log"),
        (3, "queue_log"),
    ]


# ---- the reconciler -------------------------------------------------------------------------------------
def logged_call(transcripts: Path, name: str) -> tuple[DurableLog, str]:
    log = DurableLog()
    log.add(read_logs(transcripts, name))
    (linkedid,) = [lid for lid, c in log.calls.items() if log.visits(c)]
    return log, linkedid


@pytest.mark.parametrize("name", CLOSED)
def test_a_journey_the_live_feed_got_right_is_left_alone(transcripts: Path, name: str) -> None:
    log, linkedid = logged_call(transcripts, name)
    stored = [j for j in journeys_of(transcripts, name) if j.linkedid == linkedid]
    verdict = reconcile(log, log.calls[linkedid], stored, server="pbx1", inbound_contexts=INBOUND)
    assert verdict.journey is None and not verdict.changed


def test_a_wrong_leg_is_corrected_from_queue_log_and_the_result_is_stable(transcripts: Path) -> None:
    log, linkedid = logged_call(transcripts, "01-inbound-answered")
    (good,) = [j for j in journeys_of(transcripts, "01-inbound-answered") if j.linkedid == linkedid]
    wrong = dataclasses.replace(good, queue_legs=[dataclasses.replace(good.queue_legs[0])])
    leg = wrong.queue_legs[0]
    leg.outcome, leg.agent, leg.wait_seconds, leg.talk_seconds = LegOutcome.EXIT_WITH_KEY, None, 40.0, 0.0
    verdict = reconcile(log, log.calls[linkedid], [wrong], server="pbx1", inbound_contexts=INBOUND)
    assert verdict.journey is not None and verdict.legs_corrected == 1
    fixed = verdict.journey.queue_legs[0]
    assert (fixed.outcome, fixed.agent, fixed.wait_seconds, fixed.talk_seconds) == (
        LegOutcome.ANSWERED,
        AgentId("Bob"),
        1.0,
        3.0,
    )
    assert fixed.repaired and verdict.journey.agents == ["Bob"]
    again = reconcile(log, log.calls[linkedid], [verdict.journey], server="pbx1", inbound_contexts=INBOUND)
    assert again.journey is None  # idempotent


def test_a_missing_call_is_added_from_its_cdr_rows_and_queue_log(transcripts: Path) -> None:
    log, linkedid = logged_call(transcripts, "01-inbound-answered")
    verdict = reconcile(log, log.calls[linkedid], [], server="pbx1", inbound_contexts=INBOUND)
    j = verdict.journey
    assert verdict.added and j is not None
    assert (j.linkedid, j.caller_number, j.caller_name, j.direction.value, j.outcome and j.outcome.value) == (
        linkedid,
        "13800138000",
        "张伟",
        "inbound",
        "answered",
    )
    assert [(x.queue, x.outcome, x.agent) for x in j.queue_legs] == [("sales", LegOutcome.ANSWERED, "Bob")]
    assert j.started_at == 1795362992 and j.ended_at == 1795362996
    assert reconcile(log, log.calls[linkedid], [j], server="pbx1", inbound_contexts=INBOUND).journey is None


def test_a_duplicate_under_another_channel_id_is_folded_in_and_removed(transcripts: Path) -> None:
    log, linkedid = logged_call(transcripts, "01-inbound-answered")
    (good,) = [j for j in journeys_of(transcripts, "01-inbound-answered") if j.linkedid == linkedid]
    other = next(u for u in log.calls[linkedid].uniqueids if u != linkedid)
    ghost = dataclasses.replace(good, linkedid=LinkedId(other), queue_legs=[])
    verdict = reconcile(log, log.calls[linkedid], [good, ghost], server="pbx1", inbound_contexts=INBOUND)
    assert verdict.remove == (other,) and verdict.journey is not None
    assert [leg.uniqueid for leg in verdict.journey.queue_legs] == [UniqueId(linkedid)]


# ---- the readers ----------------------------------------------------------------------------------------
def test_files_are_followed_across_partial_lines_and_rotation(tmp_path: Path) -> None:
    ql = tmp_path / "queue_log"
    logs = FileLogs(queue_log=str(ql), cdr=str(tmp_path / "Master.csv"))
    assert asyncio.run(logs.read()).queue_log == []  # files not there yet: nothing, no error
    ql.write_text("1795362992|1.0|sales|NONE|ENTERQUEUE||123|1\n1795362993|1.0|sal")
    first = asyncio.run(logs.read())
    assert [e.event for e in first.queue_log] == ["ENTERQUEUE"] and first.bad == []
    with ql.open("a") as fh:
        fh.write("es|Bob|CONNECT|1|1.2|1\n")
    assert [(e.queue, e.event) for e in asyncio.run(logs.read()).queue_log] == [("sales", "CONNECT")]
    ql.unlink()
    ql.write_text("1795362999|2.0|support|NONE|ENTERQUEUE||9|1\n")  # rotated
    assert [e.callid for e in asyncio.run(logs.read()).queue_log] == ["2.0"]


@pytest.mark.postgres
async def test_the_simulators_pgsql_tables_read_back_as_its_files(tmp_path: Path, pg_url: str) -> None:
    db_url = pg_url
    sim = SimServer(
        start=1795362992.0,
        traffic=False,
        queue_log=tmp_path / "queue_log",
        cdr=tmp_path / "Master.csv",
        cel=tmp_path / "cel.csv",
        records_url=db_url,
    )
    await sim.start()
    try:
        sim.place_call("13800138000", "张伟", "sales", patience=30, talk=3)
        sim.place_call("13900139000", 'O\'Brien, "Pat"', "support", patience=2, talk=3)
        sim.advance(60)
        assert sim.pg_sink is not None
        await sim.pg_sink.drain()
        from_files = await FileLogs(
            str(tmp_path / "queue_log"), str(tmp_path / "Master.csv"), str(tmp_path / "cel.csv")
        ).read()
        tables = PgLogs(db_url)
        try:
            from_pg = await tables.read(since=None)
            assert (await tables.read()).cdr == []  # followed by id: nothing twice
        finally:
            await tables.close()
    finally:
        await sim.stop()
    assert from_pg.bad == [] and from_files.bad == []
    assert from_pg.queue_log == from_files.queue_log
    assert [dataclasses.replace(c, eventtime=round(c.eventtime, 3)) for c in from_pg.cel] == [
        dataclasses.replace(c, eventtime=round(c.eventtime, 3)) for c in from_files.cel
    ]
    assert from_pg.cdr == from_files.cdr
    assert len(from_files.cdr) >= 4 and any(c.eventtype == "LINKEDID_END" for c in from_pg.cel)
