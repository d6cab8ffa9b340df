"""The forecast from history: pure, then `cti staffing` over the store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from cti.cli import main
from cti.core.errors import UsageError
from cti.core.events import CallEnded
from cti.core.journey import CallJourney
from cti.staffing.forecast import SLOTS, forecast, history_window, plan
from cti.store import Store
from tests.bus.events import inbound_call

UTC = dt.UTC
DAY = dt.date(2026, 12, 9)  # a Wednesday


def at(day: str, hhmmss: str) -> float:
    return dt.datetime.fromisoformat(f"{day}T{hhmmss}+00:00").timestamp()


# (queue, arrival): the two Wednesdays before DAY, one three weeks before, a Thursday
ARRIVALS = [
    ("sales", at("2026-12-02", "09:00:00")),
    ("sales", at("2026-12-02", "09:05:00")),
    ("sales", at("2026-12-02", "09:14:59")),
    ("sales", at("2026-11-25", "09:10:00")),
    ("sales", at("2026-11-25", "09:15:00")),
    ("sales", at("2026-11-18", "09:00:00")),  # three weeks before: outside two weeks
    ("sales", at("2026-12-03", "09:00:00")),  # a Thursday
    ("support", at("2026-12-02", "09:01:00")),
]


def test_the_forecast_is_the_mean_of_the_same_weekday_interval() -> None:
    calls = forecast([a for _, a in ARRIVALS], DAY, 2, UTC)
    assert len(calls) == SLOTS == 96
    assert calls[36] == 2.5  # 09:00-09:15: (3 sales + 1 support + 1) / 2 weeks
    assert calls[37] == 0.5  # 09:15: one in two weeks
    assert sum(calls) == 3.0
    assert forecast([a for _, a in ARRIVALS], DAY, 3, UTC)[36] == 2.0  # (4 + 1 + 1) / 3


def test_the_history_window_covers_the_weeks_before() -> None:
    assert history_window(DAY, 2, UTC) == (at("2026-11-25", "00:00:00"), at("2026-12-03", "00:00:00"))
    with pytest.raises(UsageError, match="weeks"):
        history_window(DAY, 0, UTC)


def test_the_plan_staffs_each_interval() -> None:
    calls = [0.0] * 96
    calls[36] = 100.0  # 100 calls in 15 minutes, AHT 90 s, 10 s: the published case at half the time scale
    rows = plan(calls, aht=90, target=10, service_level=0.8, shrinkage=0.3)
    assert rows[36].start == "09:00"
    assert rows[36].figures.agents == 14  # the published Erlang C case, in 15 minutes
    assert rows[36].scheduled == 20
    assert rows[0].figures.agents == rows[0].scheduled == 0
    assert rows[36].figures.service_level == pytest.approx(0.888350, abs=1e-6)
    a = plan(calls, aht=90, target=10, service_level=0.8, patience=150)[36]
    assert a.figures.agents == 13


def journeys() -> list[CallJourney]:
    out = []
    for i, (queue, arrival) in enumerate(ARRIVALS):
        ended = inbound_call(f"{arrival:.0f}.{i}", queue=queue, at=arrival)[-1]
        assert isinstance(ended, CallEnded)
        out.append(ended.journey)
    return out


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Path:
    async def fill() -> None:
        store = await Store.open(db_url)
        try:
            await store.calls.record_journeys(journeys())
        finally:
            await store.close()

    asyncio.run(fill())
    path = tmp_path / "cti.toml"
    path.write_text(f'[store]\nurl = "{db_url}"\n')
    return path


def staffing(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["staffing", *args]) == 0
    return capsys.readouterr().out


FORECAST = ("forecast", "--day", "2026-12-09", "--weeks", "2", "--tz", "UTC", "--target", "20", "--sl", "0.8")


def test_the_forecast_from_the_store(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = json.loads(
        staffing(
            capsys,
            *FORECAST,
            "--config",
            str(config),
            "--queue",
            "sales",
            "--shrinkage",
            "0.5",
            "--format",
            "json",
        )
    )
    assert out["aht"] == 30.0  # every stored call talked 30 s
    rows = {r["interval"]: r for r in out["intervals"]}
    assert len(rows) == 96
    assert rows["09:00"]["calls"] == 2.0  # sales only: (3 + 1) / 2
    assert rows["09:15"]["calls"] == 0.5
    # 2 calls of 30 s in 15 minutes (0.0667 Erlangs): one agent answers 96% within 20 s
    assert (rows["09:00"]["agents_needed"], rows["09:00"]["scheduled"]) == (1, 2)
    assert rows["09:00"]["service_level"] == pytest.approx(
        1 - (2 * 30 / 900) * 2.718281828459045 ** (-(1 - 2 * 30 / 900) * 20 / 30)
    )
    assert sum(r["calls"] for r in out["intervals"]) == 2.5
    assert all(r["agents_needed"] == 0 for k, r in rows.items() if k not in ("09:00", "09:15"))
    every = json.loads(staffing(capsys, *FORECAST, "--config", str(config), "--format", "json"))
    assert {r["interval"]: r["calls"] for r in every["intervals"] if r["calls"]} == {
        "09:00": 2.5,
        "09:15": 0.5,
    }
    csv_out = staffing(capsys, *FORECAST, "--config", str(config), "--format", "csv", "--aht", "180")
    lines = csv_out.splitlines()
    assert lines[0] == "interval,calls,agents_needed,scheduled,service_level,asa,occupancy"
    assert len(lines) == 97
    assert lines[37].startswith("09:00,2.5,2,2,")  # 0.5 Erlangs: one agent would answer 52.7%
    table = staffing(capsys, *FORECAST, "--config", str(config))
    assert "09:00" in table and "Agents needed" in table


def test_the_calculator_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = (
        "calc",
        "--calls",
        "100",
        "--interval",
        "1800",
        "--aht",
        "180",
        "--target",
        "20",
        "--agents",
        "14",
    )
    out = json.loads(staffing(capsys, *args, "--format", "json"))
    assert out["model"] == "erlang-c" and out["agents_needed"] == 14 and out["load_erlangs"] == 10
    [f] = out["figures"]
    assert f["p_wait"] == pytest.approx(0.174132, abs=1e-4) and f["asa"] == pytest.approx(7.836, abs=1e-4)
    a = json.loads(staffing(capsys, *args, "--patience", "300", "--shrinkage", "0.3", "--format", "json"))
    assert (a["model"], a["agents_needed"], a["scheduled"]) == ("erlang-a", 13, 19)
    assert a["figures"][0]["service_level"] == pytest.approx(0.9168, abs=1e-4)
    csv_lines = staffing(capsys, *args, "--agents", "15", "--format", "csv").splitlines()
    assert csv_lines[0] == "agents,p_wait,p_abandon,asa,service_level,occupancy"
    assert [line.split(",")[0] for line in csv_lines[1:]] == ["14", "15"]
    table = staffing(capsys, "calc", "--calls", "100", "--aht", "180", "--target", "20")
    assert "agents needed 14" in table and "88.84%" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("calc", "--calls", "100", "--aht", "0", "--target", "20"), "AHT"),
        (("calc", "--calls", "100", "--aht", "180", "--target", "20", "--sl", "1.5"), "service-level"),
        (("calc", "--calls", "100", "--aht", "180", "--target", "20", "--shrinkage", "1"), "shrinkage"),
    ],
)
def test_bad_arguments_get_a_clear_error(
    args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["staffing", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_day_or_zone_gets_a_clear_error(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ("forecast", "--config", str(config), "--target", "20")
    assert main(["staffing", *base, "--day", "2026-13-01"]) == 2
    assert "not a date" in capsys.readouterr().err
    assert main(["staffing", *base, "--day", "2026-12-09", "--tz", "Mars/Olympus"]) == 2
    assert "time zone" in capsys.readouterr().err
    assert main(["staffing", *base, "--day", "2027-06-09"]) == 2  # no history: no AHT to take
    assert "--aht" in capsys.readouterr().err


def test_the_calculator_loads_neither_the_store_nor_the_daemon() -> None:
    from tests.test_cli_startup import heavy, loaded

    rc, modules = loaded("staffing", "calc", "--calls", "100", "--aht", "180", "--target", "20")
    assert rc == 0
    assert "cti.staffing.erlang" in modules  # it did calculate
    assert heavy(modules) == set()
    assert not {m for m in modules if m.startswith(("cti.store", "cti.app", "cti.screenpop", "cti.config"))}
