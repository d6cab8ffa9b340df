"""The reports benchmark runs (a small store) and its last line is the documented JSON object."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_reports


@pytest.mark.postgres
def test_bench_reports_prints_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_reports.main(["--quick", "--rows=20000", "--repeat=1", "--ranges=2"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(figures) == {"sqlite", "postgresql"}
    for f in figures.values():
        assert set(f) == {"rows", "rollup_ms", "raw_ms", "any_range_ms"}
        assert f["rows"] == 20000 and f["rollup_ms"] > 0 and f["raw_ms"] > 0
