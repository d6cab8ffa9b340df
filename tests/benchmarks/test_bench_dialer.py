"""The dialer benchmark runs (a --quick smoke run) and its last line is the documented JSON object."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_dialer


def test_bench_dialer_quick_prints_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_dialer.main(["--quick", "--days=2"]) == 0
    f = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(f) == {"progressive", "fixed_ratio", "adaptive", "cti", "ceiling"}
    for figs in f.values():
        assert set(figs) == {"20", "100"}
        for agents in ("20", "100"):
            assert set(figs[agents]) == {
                "talk_utilisation",
                "abandon_rate",
                "max_hour_abandon",
                "days_over_limit",
                "dials_per_agent_hour",
            }
            assert 0.0 <= figs[agents]["talk_utilisation"] <= 1.0
    # predictive pacing keeps agents busier than one line per idle agent
    assert f["cti"]["20"]["talk_utilisation"] > f["progressive"]["20"]["talk_utilisation"]
    assert f["ceiling"]["20"]["talk_utilisation"] == pytest.approx(120 / 135, abs=1e-3)
