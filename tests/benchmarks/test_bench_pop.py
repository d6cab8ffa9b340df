import json

import pytest

from benchmarks import bench_pop


def test_the_pop_benchmark_runs_quick_and_reports_percentiles_and_a_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_pop.main(["--quick"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pops"] == 30 and result["agents"] == 20
    assert 0 < result["pop_ms"]["p50"] <= result["pop_ms"]["p99"]
    assert result["ratio_pop_p50_to_echo_p50"] > 0
