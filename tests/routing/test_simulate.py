"""The routing simulation: Erlang C, hand-checked runs, seeds, the traffic file, `cti simulate`."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from cti.cli import main
from cti.core.errors import ConfigError
from cti.routing.policy import QueuePolicy, Requirements, SkillNeed
from cti.routing.simulate.dispatchers import RouterDispatcher
from cti.routing.simulate.engine import Dispatcher, SimCall, simulate
from cti.routing.simulate.erlang import asa, erlang_c, service_level
from cti.routing.simulate.traffic import AgentGroup, AppQueueSettings, CallType, Proficiency, Traffic
from cti.sim.scenario import Dist
from cti.simulate.app_queue import APP_QUEUE_STRATEGIES, AppQueueDispatcher
from cti.simulate.traffic_file import parse_traffic

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "simulate" / "cti.toml"
TRAFFIC = ROOT / "config" / "simulate" / "traffic.toml"


@pytest.mark.parametrize(
    ("erlangs", "agents", "p_wait", "mean_wait", "sl"),
    [(10, 14, 0.1741, 7.84, 0.8884), (100, 110, 0.2370, 4.27, 0.9220)],
)
def test_erlang_c_reproduces_the_published_figures(
    erlangs: float, agents: int, p_wait: float, mean_wait: float, sl: float
) -> None:
    assert erlang_c(erlangs, agents) == pytest.approx(p_wait, abs=1e-3)
    assert asa(erlangs, agents, 180) == pytest.approx(mean_wait, abs=1e-2)
    assert service_level(erlangs, agents, 180, 20) == pytest.approx(sl, abs=1e-3)


def test_erlang_c_of_an_overloaded_queue() -> None:
    assert erlang_c(10, 10) == 1.0 and asa(10, 9, 180) == math.inf and service_level(10, 9, 180, 20) == 0


def _one_agent(patience: float = math.inf) -> tuple[Traffic, list[SimCall]]:
    traffic = Traffic(
        (CallType("t", "q", (0.0,), talk=Dist("constant", 60.0)),),
        (AgentGroup("g", 1, {"q": 5}),),
        hours=1.0,
        drain_hours=0.0,
    )
    needs = Requirements()
    calls = [
        SimCall("c1", "t", "q", needs, 10.0, 60.0, 0.0, math.inf),
        SimCall("c2", "t", "q", needs, 20.0, 60.0, 0.0, patience),
    ]
    return traffic, calls


def _dispatchers() -> list[Dispatcher]:
    out: list[Dispatcher] = [RouterDispatcher({"q": QueuePolicy("q", skills=(SkillNeed("q"),))})]
    out += [AppQueueDispatcher(s, {"q": ("q",)}, AppQueueSettings()) for s in APP_QUEUE_STRATEGIES]
    return out


@pytest.mark.parametrize("dispatcher", _dispatchers(), ids=lambda d: d.name)
def test_one_agent_two_calls_by_hand(dispatcher: Dispatcher) -> None:
    traffic, calls = _one_agent()
    f = simulate(traffic, dispatcher, 1, calls).figures({"q": 20.0})
    t = f["total"]
    # c1 is answered at once; c2 waits for the end of c1's talk at 70 s (cti), or for app_queue's next
    # poll, the next whole second after the agent comes free (71 s)
    wait2 = 50.0 if dispatcher.name == "cti" else 51.0
    assert (t["offered"], t["answered"], t["abandoned"], t["answered_within"]) == (2, 2, 0, 1)
    assert t["service_level"] == 0.5
    assert t["asa"] == pytest.approx(wait2 / 2)
    assert f["agents"]["occupancy"] == pytest.approx(120.0 / 3600.0)
    assert f["agents"]["occupancy_spread"] == 0.0
    assert f["queues"]["q"]["threshold"] == 20.0


@pytest.mark.parametrize("dispatcher", _dispatchers(), ids=lambda d: d.name)
def test_a_caller_whose_patience_runs_out_abandons(dispatcher: Dispatcher) -> None:
    traffic, calls = _one_agent(patience=30.0)
    t = simulate(traffic, dispatcher, 1, calls).figures()["total"]
    assert (t["offered"], t["answered"], t["abandoned"]) == (2, 1, 1)
    assert t["abandon_rate"] == 0.5 and t["asa"] == 0.0 and t["service_level"] == 0.5


def test_an_agent_who_never_answers_is_offered_again_and_the_caller_abandons() -> None:
    traffic, calls = _one_agent(patience=45.0)
    shy = Traffic(traffic.call_types, (AgentGroup("g", 1, {"q": 5}, answer_probability=0.0),), 1.0, 1, 0.0)
    d = RouterDispatcher({"q": QueuePolicy("q", ring_timeout=10.0, miss_retry=0.0, max_misses=0)})
    t = simulate(shy, d, 1, calls[1:]).figures()["total"]
    assert (t["offered"], t["answered"], t["abandoned"]) == (1, 0, 1)
    assert d.router.agents()[0].calls == 0


def _figures(seed: int | None, dispatcher: str = "cti") -> str:
    return json.dumps(
        simulate(
            parse_traffic(TRAFFIC.read_text(encoding="utf-8"), str(TRAFFIC)),
            RouterDispatcher({q: QueuePolicy(q, skills=(SkillNeed(q),)) for q in ("sales", "support")})
            if dispatcher == "cti"
            else AppQueueDispatcher(
                dispatcher, {"sales": ("sales",), "support": ("support",)}, AppQueueSettings()
            ),
            seed,
        ).figures(),
        sort_keys=True,
    )


@pytest.mark.parametrize("dispatcher", ["cti", "ringall"])
def test_the_same_seed_gives_the_same_figures_another_seed_others(dispatcher: str) -> None:
    assert _figures(3, dispatcher) == _figures(3, dispatcher)
    assert _figures(3, dispatcher) != _figures(4, dispatcher)


def test_the_traffic_file_is_read_with_its_defaults() -> None:
    t = parse_traffic(TRAFFIC.read_text(encoding="utf-8"), str(TRAFFIC))
    sales, support = t.call_types
    assert (t.hours, t.seed, sales.per_hour, sales.rate(9)) == (4.0, 7, (60, 90, 90, 60), 60)
    assert sales.wrap == Dist("constant", 15.0) and support.needs.language == "fr"
    assert math.isinf(t.groups[0].end) and t.groups[2].start == 1 and t.app_queue.timeout == 15.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[[agents]]\ngroup='g'\nskills={a=1}", "call_types"),
        (
            "[[call_types]]\nname='x'\nqueue='q'\narrivals_per_hour=[1, -2]",
            "call_types[0].arrivals_per_hour[1]",
        ),
        (
            "[[call_types]]\nname='x'\nqueue='q'\narrivals_per_hour=1\ntalk={dist='gamma'}",
            "call_types[0].talk.dist",
        ),
        ("[[call_types]]\nname='x'\nqueue='q'\narrivals_per_hour=1\nspeed=3", "call_types[0].speed"),
        (
            "[[call_types]]\nname='x'\nqueue='q'\narrivals_per_hour=1\n[[agents]]\ngroup='g'\nskills={A=1}",
            "agents[0].skills.A",
        ),
        (
            "[[call_types]]\nname='x'\nqueue='q'\narrivals_per_hour=1\n"
            "[[agents]]\ngroup='g'\nskills={a=1}\nstart=5\nend=2",
            "agents[0].end",
        ),
        ("[simulation]\nhours='x'", "simulation.hours"),
        ("[simulation\n", "<syntax>"),
    ],
)
def test_a_bad_traffic_file_names_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_traffic(text, "t.toml")
    assert e.value.key == key and e.value.path == "t.toml"


def test_cti_simulate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["simulate", "--config", str(CONFIG), "--traffic", str(TRAFFIC), "--hours", "1", "--json"]) == 0
    )
    f = json.loads(capsys.readouterr().out)
    assert set(f) == {
        "dispatcher",
        "hours",
        "seed",
        "total",
        "queues",
        "call_types",
        "agents",
        "groups",
        "ewt",
        "overflow",
    }
    assert f["overflow"]["overflowed"] == 0 and "with" not in f["overflow"]  # no queue overflows
    assert set(f["queues"]) == {"sales", "support"} and set(f["call_types"]) == {"sales", "support-fr"}
    ewt = f["ewt"]  # the waits announced at entry, against the real ones (cti's and app_queue's)
    assert ewt["ewt_calls"] > 0 and ewt["ewt_mae_s"] >= 0 and ewt["ewt_mae_app_queue_s"] >= 0
    assert set(f["total"]) == {
        "offered",
        "answered",
        "abandoned",
        "answered_within",
        "service_level",
        "asa",
        "abandon_rate",
        "unfinished",
    }
    assert set(f["groups"]["sales"]) == {
        "agents",
        "occupancy",
        "occupancy_spread",
        "occupancy_stdev",
        "calls",
    }
    assert f["dispatcher"] == "cti" and f["hours"] == 1.0 and f["seed"] == 7


def test_cti_simulate_text_and_a_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--config", str(CONFIG), "--traffic", str(TRAFFIC), "--hours", "0.5"]
    assert main([*args, "--dispatcher", "leastrecent", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dispatcher leastrecent, 0.5 h, seed 2") and "support-fr" in out


def test_cti_simulate_bad_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "t.toml"
    bad.write_text(
        "[[call_types]]\nname='x'\nqueue='nowhere'\narrivals_per_hour=1\n[[agents]]\ngroup='g'\nskills={a=1}\n"
    )
    assert main(["simulate", "--config", str(CONFIG), "--traffic", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: call_types[0].queue: queue 'nowhere' has no [routing.queues.nowhere]" in err
    assert main(["simulate", "--config", str(CONFIG), "--traffic", str(tmp_path / "none.toml")]) == 2
    assert "none.toml: <file>: no such file" in capsys.readouterr().err
    assert main(["simulate", "--config", str(tmp_path / "x.toml"), "--traffic", str(TRAFFIC)]) == 2


# ---- proficiency: handle time by the answering agent's level, for every dispatcher ------------------
def test_proficiency_factor_is_linear_in_the_level_with_a_floor() -> None:
    p = Proficiency(per_level=0.05, reference=8)
    assert [p.factor(8), p.factor(6), p.factor(5)] == pytest.approx([1.0, 1.1, 1.15])
    assert p.factor(10) == pytest.approx(0.9) and Proficiency(0.5, 8).factor(10) == 0.5


@pytest.mark.parametrize("dispatcher", _dispatchers(), ids=lambda d: d.name)
def test_proficiency_scales_the_talk_by_the_agents_level(dispatcher: Dispatcher) -> None:
    """One agent at level 5, reference 8, 10 % a level: the 60 s talk takes 78 s, whoever routes."""
    traffic, _ = _one_agent()
    slow = dataclasses.replace(traffic, proficiency=Proficiency(per_level=0.1, reference=8))
    needs = Requirements((SkillNeed("q"),))
    calls = [SimCall("c1", "t", "q", needs, 10.0, 60.0, 0.0, math.inf)]
    r = simulate(slow, dispatcher, 1, calls)
    assert r.calls[0].handled == pytest.approx(78.0)
    assert r.agents[0].talk_seconds == pytest.approx(78.0)
    assert r.figures()["agents"]["occupancy"] == pytest.approx(78.0 / 3600.0)


def test_without_proficiency_the_talk_is_the_drawn_one() -> None:
    traffic, calls = _one_agent()
    r = simulate(traffic, _dispatchers()[0], 1, calls)
    assert [c.handled for c in r.calls] == [60.0, 60.0]


def test_the_traffic_file_reads_the_proficiency() -> None:
    base = "[[call_types]]\nname='x'\nqueue='q'\narrivals_per_hour=1\n[[agents]]\ngroup='g'\nskills={q=1}\n"
    assert parse_traffic(base).proficiency is None
    t = parse_traffic("[simulation]\nproficiency_per_level=0.05\nproficiency_reference=9\n" + base)
    assert t.proficiency == Proficiency(0.05, 9)
    with pytest.raises(ConfigError, match="proficiency_per_level"):
        parse_traffic("[simulation]\nproficiency_per_level=2\n" + base)


OVERFLOW = """
overflow_if_ewt_above = 45
overflow_to = "support"
announce_every = 30
offer_callback_above = 60
offer_callback_every = 60
"""


def test_cti_simulate_overflows_by_ewt_at_entry_and_while_waiting_and_compares_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon's overflow (cti.routing.ewt.overflow_queue at entry, reannounce while waiting), the
    same traffic without it, the periodic announcements measured, the callback offers counted."""
    text = CONFIG.read_text().replace(
        "[[routing.queues.sales.escalation]]", OVERFLOW + "[[routing.queues.sales.escalation]]", 1
    )
    (tmp_path / "cti.toml").write_text(text)
    args = ["simulate", "--config", str(tmp_path / "cti.toml"), "--traffic", str(TRAFFIC), "--json"]
    assert main(args) == 0
    f = json.loads(capsys.readouterr().out)
    o = f["overflow"]
    assert o["overflowed"] == o["overflowed_at_entry"] + o["overflowed_while_waiting"] > 0
    assert o["callback_offers"] >= o["calls_offered_a_callback"] > 0
    assert o["with"]["total"] == {k: f["total"][k] for k in o["with"]["total"]}
    assert o["without"]["total"]["offered"] == f["total"]["offered"]  # the same calls
    assert o["without"]["total"] != o["with"]["total"]  # the overflow changed something
    assert f["ewt"]["announcements"] > 0 and f["ewt"]["announced_mae_s"] >= 0
    assert main(args[:-1]) == 0
    out = capsys.readouterr().out
    assert "overflow by EWT:" in out and "without overflow" in out and "periodic announcements" in out
