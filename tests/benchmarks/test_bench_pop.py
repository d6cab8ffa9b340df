import json

import pytest

from benchmarks import bench_pop


def test_the_pop_benchmark_runs_quick_and_reports_percentiles_and_a_ratio(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_pop.main(["--quick"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["pops"] == 30 and result["agents"] == 20
    assert 0 < result["pop_ms"]["p50"] <= result["pop_ms"]["p99"]
    assert result["ratio_pop_p50_to_echo_p50"] > 0
    storm = result["storm"]
    assert storm["resumed"] == storm["agents"] == 50 and storm["longest_stall_cpu_ms"] > 0
    attacks = result["attacks"]
    assert attacks["nested_json"]["close_codes"] == {"1009": 50}  # over the first message's 8 KiB
    assert attacks["lone_surrogate"]["close_codes"] == {"1007": 50}
    assert attacks["never_reads"]["dropped"] == 1
    assert set(attacks["failed_logins_100"]["close_codes"]) <= {"1013", "4001"}
    assert all(a["pop_ms"]["p50"] > 0 for k, a in attacks.items() if isinstance(a, dict))
