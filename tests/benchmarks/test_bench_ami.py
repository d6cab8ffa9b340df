"""The AMI benchmark still runs (a smoke run on a small stream; its figures are not asserted)."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_ami


def test_bench_ami_quick_runs_and_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_ami.main(["--quick"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["messages"] > 1000 and figures["calls_ended"] > 10
    assert figures["ratio"] > 0 and figures["peak_mb_large"] > 0


def test_repetitions_get_fresh_ids_and_shifted_times() -> None:
    base = b"Event: X\r\nTimestamp: 100.000000\r\nUniqueid: 1.5\r\nChannel: Local/1@a-0000000a;1\r\n\r\n"
    copy = bench_ami.repetition(base, 2, 50.0)
    assert b"Uniqueid: r2-1.5" in copy and b"Timestamp: 200.000000" in copy
    assert b"Local/1@a-00020000000a;1" in copy
    assert bench_ami.repetition(base, 0, 50.0) == base
