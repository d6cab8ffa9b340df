"""`cti replay`: journeys as JSON lines, per-queue figures, streaming in constant memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bench_ami import build_stream
from cti.asterisk.calls import CallTracker
from cti.asterisk.replay import read_chunks, replay
from cti.cli import build_parser, main
from cti.core.events import CallEnded, StreamProblem
from tests.asterisk.asterisk_logs import parse_queue_log
from tests.conftest import ROOT, timeout

JOURNEY_FIELDS = {
    "linkedid",
    "direction",
    "caller_number",
    "caller_name",
    "started_at",
    "ended_at",
    "outcome",
}
LEG_FIELDS = {
    "queue",
    "uniqueid",
    "entered_at",
    "left_at",
    "position",
    "outcome",
    "agent",
    "ring_no_answer",
    "repaired",
    "wait_seconds",
    "talk_seconds",
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


def test_jsonl_prints_one_object_per_completed_journey(
    transcripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run_cli(["replay", str(transcripts / "mixed-seed1.ami"), "--format", "jsonl"], capsys)
    assert rc == 0 and err == ""
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) > 120 and len({j["linkedid"] for j in lines}) == len(lines)
    for j in lines:
        assert JOURNEY_FIELDS <= set(j)
        assert j["ended_at"] >= j["started_at"]
        for leg in j["queue_legs"]:
            assert set(leg) == LEG_FIELDS and isinstance(leg["ring_no_answer"], list)
    assert {j["direction"] for j in lines} == {"inbound", "outbound"}


def test_summary_counts_agree_with_the_queue_log(
    transcripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run_cli(["replay", str(transcripts / "mixed-seed1.ami"), "--summary"], capsys)
    assert rc == 0
    summary = json.loads(out)
    logged = parse_queue_log(transcripts / "mixed-seed1.queue_log")
    for queue, figures in summary.items():
        mine = [g for g in logged if g.queue == queue and g.outcome]
        assert figures["offered"] == len(mine)
        assert figures["answered"] == sum(1 for g in mine if g.outcome in ("answered", "transferred"))
        assert figures["abandoned"] == sum(1 for g in mine if g.outcome == "abandoned")
        assert figures["timed_out"] == sum(1 for g in mine if g.outcome == "timeout")
        assert figures["threshold"] == 20.0
        for key in ("avg_wait_answered", "max_wait", "avg_talk", "service_level"):
            assert key in figures
    assert set(summary) == {"sales", "support"}


def test_service_level_threshold_comes_from_the_flag_or_the_config(
    transcripts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(transcripts / "mixed-seed1.ami")
    _, out, _ = run_cli(["replay", path, "--summary", "--service-level", "0.5"], capsys)
    tight = json.loads(out)
    _, out, _ = run_cli(["replay", path, "--summary"], capsys)
    default = json.loads(out)
    assert tight["sales"]["threshold"] == 0.5
    assert tight["sales"]["service_level"] < default["sales"]["service_level"]
    cfg = tmp_path / "cti.toml"
    cfg.write_text("[reports]\nservice_level_seconds = 20\n[reports.service_level]\nsupport = 0.5\n")
    _, out, _ = run_cli(["replay", path, "--summary", "--config", str(cfg)], capsys)
    per_queue = json.loads(out)
    assert per_queue["support"]["threshold"] == 0.5 and per_queue["sales"]["threshold"] == 20.0
    assert per_queue["support"]["service_level"] == tight["support"]["service_level"]


def test_bad_arguments_get_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(["replay", str(tmp_path / "nope.ami")], capsys)
    assert rc == 2 and "no such file" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[reports]\nservice_levle_seconds = 3\n")
    empty = tmp_path / "empty.ami"
    empty.write_bytes(b"")
    rc, _, err = run_cli(["replay", str(empty), "--config", str(bad)], capsys)
    assert rc == 2 and "service_levle_seconds" in err
    rc, _, err = run_cli(["replay", str(empty), "--service-level", "0"], capsys)
    assert rc == 2 and "service-level" in err


def test_garbage_in_the_stream_is_reported_on_stderr_and_the_rest_replays(
    transcripts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (transcripts / "01-inbound-answered.ami").read_bytes()
    cut = data.index(b"\r\n\r\n") + 4
    broken = tmp_path / "broken.ami"
    broken.write_bytes(data[:cut] + b"this is not AMI\r\nEvent: Hangup\r\n\r\n" + data[cut:])
    rc, out, err = run_cli(["replay", str(broken)], capsys)
    assert rc == 0 and "Key: Value" in err and "Uniqueid" in err
    assert len(out.splitlines()) == 1


def test_the_command_runs_as_a_module(transcripts: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cti", "replay", str(transcripts / "02-inbound-abandoned.ami")],
        capture_output=True,
        text=True,
        timeout=timeout(60),
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (journey,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert journey["outcome"] == "abandoned" and journey["caller_name"] == "José Núñez"


def test_replay_is_registered_with_the_cti_command() -> None:
    args = build_parser().parse_args(["replay", "x.ami", "--summary"])
    assert args.summary and args.file == "x.ami"


def test_files_are_read_in_chunks(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_bytes(b"a" * 2500)
    assert [len(c) for c in read_chunks(f, 1000)] == [1000, 1000, 500]


def test_a_long_stream_replays_in_bounded_memory() -> None:
    """Two copies of mixed-seed1 (fresh ids) or one: the peak stays the same, so a 1 GB stream fits."""

    def peak(repeats: int) -> tuple[float, int]:
        parts = build_stream(repeats)

        def chunks() -> Iterator[bytes]:
            for part in parts:
                yield from (part[i : i + 65536] for i in range(0, len(part), 65536))

        tracemalloc.start()
        try:
            calls = sum(1 for ev in replay(chunks(), CallTracker()) if isinstance(ev, CallEnded))
            return tracemalloc.get_traced_memory()[1] / 1e6, calls
        finally:
            tracemalloc.stop()

    one, calls_one = peak(1)
    two, calls_two = peak(2)
    assert calls_two == 2 * calls_one
    assert two < one * 1.5 + 0.5, (one, two)


def test_problems_keep_their_order_with_the_calls() -> None:
    events = list(replay([b"Asterisk Call Manager/13.0.0\r\nnonsense\r\n\r\n"]))
    assert [type(e) for e in events] == [StreamProblem]


def test_run_writes_to_a_given_stream(transcripts: Path) -> None:
    from cti.asterisk.replay import run

    args = build_parser().parse_args(["replay", str(transcripts / "01-inbound-answered.ami")])
    buf = io.StringIO()
    assert run(args, buf) == 0
    assert json.loads(buf.getvalue())["caller_name"] == "张伟"


def test_agents_prints_per_agent_figures_that_match_the_queue_log(
    transcripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run_cli(["replay", str(transcripts / "mixed-seed1.ami"), "--agents"], capsys)
    assert rc == 0
    figures = json.loads(out)
    logged = parse_queue_log(transcripts / "mixed-seed1.queue_log")
    for agent, f in figures.items():
        assert f["answered"] == sum(1 for g in logged if g.agent == agent and g.outcome)
        assert f["transfers"] == sum(1 for g in logged if g.agent == agent and g.outcome == "transferred")
    assert set(figures) == {g.agent for g in logged if g.agent}
