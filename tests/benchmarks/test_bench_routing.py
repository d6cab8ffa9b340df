"""The routing benchmark runs (a --quick smoke run) and its last line is the documented JSON object."""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_routing


def test_bench_routing_quick_prints_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_routing.main(["--quick"]) == 0
    f = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(f) == {"ewt", "erlang_c", "multi_skill", "two_type", "decisions_per_s", "baseline_per_s"}
    assert set(f["ewt"]) == {
        "multi_skill",
        "busy_hour",
        "large_center",
        "small_team",
        "priority_mix",
        "priority_mix_without_rule6",
        "cost",
    }
    cost = f["ewt"]["cost"]
    assert cost["estimate_ms_per_call"] > 0  # an estimate at every entry costs something
    assert cost["estimate_us"] > 0 and cost["closed_form_us"] > 0 and cost["estimate_over_closed_form"] > 0
    for case in ("busy_hour", "large_center", "small_team", "priority_mix"):
        e = f["ewt"][case]
        assert e["announcements"] > 0 and 0 < e["floor_ratio"] < 1 and e["announced_mae_s"] >= 0
    for e in (f["ewt"][t] for t in ("multi_skill", "busy_hour", "large_center")):
        assert set(e) >= {"ewt_mae_s", "ewt_mae_app_queue_s", "mean_wait_s", "ratio", "ewt_calls"}
        assert e["ewt_calls"] > 0 and e["ewt_mae_s"] < e["ewt_mae_app_queue_s"]
    assert [
        set(c) >= {"erlangs", "agents", "asa", "sl", "asa_erlang", "sl_erlang"} for c in f["erlang_c"]
    ] == [
        True,
        True,
    ]
    assert set(f["multi_skill"]) == {"cti", "ringall", "leastrecent", "rrmemory", "fewestcalls", "linear"}
    for figs in f["multi_skill"].values():
        assert set(figs) == {"sl", "asa", "abandon", "occupancy", "occupancy_spread"}
    assert set(f["two_type"]) >= {"agents", "generalists", "sl", "abandon"}
    assert f["decisions_per_s"] > 0 and f["baseline_per_s"] > 0
