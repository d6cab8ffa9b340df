"""The scenario TOML: the shipped demo loads, and every mistake names the file and the key."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cti.core.errors import ConfigError
from cti.sim.scenario import Dist, load_scenario, parse_dist
from tests.conftest import ROOT

DEMO = ROOT / "config" / "sim" / "demo.toml"


def test_demo_center_has_two_queues_six_agents_and_frank_starts_paused_and_manual() -> None:
    sc = load_scenario(DEMO)
    assert [q.name for q in sc.queues] == ["sales", "support"]
    assert [(a.extension, a.name) for a in sc.agents] == [
        ("1001", "Alice"),
        ("1002", "Bob"),
        ("1003", "Carol"),
        ("1004", "Dave"),
        ("1005", "Erin"),
        ("1006", "Frank"),
    ]
    frank = sc.agents[-1]
    assert frank.manual and frank.paused
    assert sc.traffic.enabled and 60 <= sc.traffic.calls_per_hour[12] <= 300
    assert any(u.username == "cti" and u.secret == "ctisecret" for u in sc.users)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[sim]\nspeed = 2\n", "sim.speed", "unknown key"),
        ("[[agents]]\nextension = 'x1'\nname = 'A'\n", "agents[0].extension", "digits"),
        ("[[queues]]\nname = 'q'\nstrategy = 'roundrobin'\n", "queues[0].strategy", "unknown strategy"),
        (
            "[[queues]]\nname = 'q'\nmembers = [{agent = '1001'}]\n",
            "queues[0].members[0].agent",
            "no [[agents]]",
        ),
        ("[traffic]\ncalls_per_hour = [1, 2]\n", "traffic.calls_per_hour", "24"),
        ("[traffic]\npatience = {dist = 'weird'}\n", "traffic.patience.dist", "unknown distribution"),
        ("[pstn]\nanswer = 0.9\n", "pstn", "must be 1"),
        ("[[queues]]\nname = 'q'\njoinempty = 'sometimes'\n", "queues[0].joinempty", "unknown condition"),
        ("[traffic]\nivr = {nowhere = 1.0}\n", "traffic.ivr.nowhere", "no such queue"),
        ("not toml [", "-", "invalid TOML"),
    ],
)
def test_a_bad_scenario_names_the_file_and_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert err.value.path == str(path)
    assert err.value.key == key
    assert problem in err.value.problem


def test_customers_csv_is_read_and_a_bad_row_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(
        'number,name\n13800138000,张伟\n+34911234567,"Núñez, José"\n', encoding="utf-8"
    )
    sc = load_scenario(_write(tmp_path, "[traffic]\ncustomers = 'c.csv'\n"))
    assert [(c.number, c.name) for c in sc.traffic.customers] == [
        ("13800138000", "张伟"),
        ("+34911234567", "Núñez, José"),
    ]
    (tmp_path / "c.csv").write_text("13800138000,A\nnot-a-number,B\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.csv:2: bad number"):
        load_scenario(_write(tmp_path, "[traffic]\ncustomers = 'c.csv'\n"))


def test_distributions_sample_within_their_bounds() -> None:
    rng = random.Random(1)
    u = parse_dist("f", "k", {"dist": "uniform", "min": 2, "max": 4})
    assert all(2 <= u.sample(rng) <= 4 for _ in range(200))
    n = parse_dist("f", "k", {"dist": "normal", "mean": 5, "sd": 10, "min": 1})
    assert all(n.sample(rng) >= 1 for _ in range(200))
    ln = Dist("lognormal", 100, 50)
    mean = sum(ln.sample(rng) for _ in range(4000)) / 4000
    assert 90 < mean < 110
    assert parse_dist("f", "k", 3) == Dist("constant", 3.0)


def test_a_did_must_route_to_a_queue_or_hold(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_scenario(_write(tmp_path, '[dids]\n"4155550000" = "nowhere"\n'))
    assert err.value.key == "dids.4155550000"
    assert dict(load_scenario(DEMO).dids)["4155550002"] == "hold"
