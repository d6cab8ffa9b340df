"""The connection benchmark still runs (a smoke run on 200 KB of the stream; speeds are not asserted)."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_connection


def test_bench_connection_quick_delivers_every_event_and_prints_its_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_connection.main(["--quick"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["events"] > 300 and figures["ours_delivered"] == figures["events"]
    assert figures["ratio"] > 0 and figures["panoramisk_delivered"] > 0
