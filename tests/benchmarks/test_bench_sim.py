"""The simulator benchmark still runs (a --quick smoke run on a tiny workload; figures are not judged)."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_sim


def test_bench_sim_quick_runs_and_reports_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_sim.main(["--quick"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["events"] > 0 and figures["concurrent_calls_peak"] > 0
    assert figures["speed_vs_real_time"] > 0 and figures["ratio_events_vs_encode"] > 0
