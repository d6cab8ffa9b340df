import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from cti.cli import main
from cti.core.events import CallEnded
from cti.core.journey import CallJourney, JourneyOutcome, LegOutcome
from cti.reports.cli import parse_range
from cti.reports.metrics import agent_stats, queue_stats
from cti.store import Store
from tests.bus.events import inbound_call

AT = 1_700_000_000.0  # 2023-11-14 22:13 UTC


def journeys() -> list[CallJourney]:
    out = []
    for i in range(4):
        ended = inbound_call(f"{AT + i:.0f}.{i}", agent="Alice" if i % 2 else "Bob", at=AT + i * 60)[-1]
        assert isinstance(ended, CallEnded)
        out.append(ended.journey)
    abandoned = inbound_call(f"{AT + 9:.0f}.9", at=AT + 900, queue="support")[-1].journey  # type: ignore[attr-defined]
    leg = abandoned.queue_legs[0]
    leg.outcome, leg.agent, leg.talk_seconds, leg.wait_seconds, leg.answered_at = (
        LegOutcome.ABANDONED,
        None,
        0,
        42,
        None,
    )
    abandoned.outcome, abandoned.agents = JourneyOutcome.ABANDONED, []
    out.append(abandoned)
    return out


# (call, agent, disposition). Calls 1 and 3 were answered by Alice, 0 and 2 by Bob, 9 by nobody.
DISPOSITIONS = [
    (1, "Alice", "sale"),
    (3, "Alice", "follow-up"),
    (0, "Bob", "resolved"),
    (0, "Carol", "sale"),  # Carol did not answer call 0: not her outcome
    (9, "Bob", "sale"),  # nobody answered call 9 (abandoned): no agent's outcome
]


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Path:
    async def fill() -> None:
        store = await Store.open(db_url)
        try:
            await store.calls.record_journeys(journeys())
            for i, agent, disposition in DISPOSITIONS:
                await store.calls.save_disposition(f"{AT + i:.0f}.{i}", agent, disposition, "", server="pbx1")
        finally:
            await store.close()

    asyncio.run(fill())
    path = tmp_path / "cti.toml"
    path.write_text(f'[store]\nurl = "{db_url}"\n[reports.service_level]\nsupport = 30\n')
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


RANGE = ("--from", "2023-11-13", "--to", "2023-11-16")


def test_the_json_report_per_queue_is_the_metric_definitions_over_the_stored_legs(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = json.loads(run(capsys, "--config", str(config), *RANGE, "--format", "json"))
    legs = [leg for j in journeys() for leg in j.queue_legs]
    assert out["rows"] == [
        queue_stats("sales", legs, 20.0).to_json(),
        queue_stats("support", legs, 30.0).to_json(),
    ]
    sales = out["rows"][0]
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (4, 4, 0)
    assert out["rows"][1]["abandoned"] == 1 and out["rows"][1]["max_wait"] == 42


def test_the_agent_report_in_csv(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "--config", str(config), *RANGE, "--by", "agent", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["agent"] for r in rows] == ["Alice", "Bob"]
    legs = [leg for j in journeys() for leg in j.queue_legs]
    assert float(rows[0]["aht"]) == agent_stats("Alice", legs).aht
    assert rows[0]["answered"] == "2"


def test_agents_are_judged_by_the_outcomes_of_the_calls_they_answered(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = json.loads(run(capsys, "--config", str(config), *RANGE, "--by", "agent", "--format", "json"))
    rows = {r["agent"]: r for r in out["rows"]}
    assert set(rows) == {"Alice", "Bob"}
    alice, bob = rows["Alice"], rows["Bob"]
    assert (alice["answered"], alice["dispositioned"], alice["successes"]) == (2, 2, 1)
    assert alice["by_disposition"] == {"follow-up": 1, "sale": 1}
    assert (alice["success_rate"], alice["disposition_rate"]) == (0.5, 1.0)
    assert (bob["answered"], bob["dispositioned"], bob["successes"]) == (2, 1, 1)
    assert (bob["success_rate"], bob["disposition_rate"]) == (0.5, 0.5)
    assert bob["by_disposition"] == {"resolved": 1}
    assert (alice["offered"], alice["answer_rate"]) == (2, 1.0)
    # a stricter definition of success, from the configuration
    config.write_text(config.read_text() + '[reports]\nsuccess_dispositions = ["sale"]\n')
    out = json.loads(run(capsys, "--config", str(config), *RANGE, "--by", "agent", "--format", "json"))
    assert {r["agent"]: r["successes"] for r in out["rows"]} == {"Alice": 1, "Bob": 0}


def test_the_agent_table_shows_outcomes(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = run(capsys, "--config", str(config), *RANGE, "--by", "agent").splitlines()
    assert lines[0].split()[:2] == ["Agent", "Offered"] and "Success rate" in lines[0]
    assert lines[2].startswith("Alice") and lines[2].rstrip().endswith("50.0%")


def test_the_table_has_a_header_and_one_line_per_queue(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run(capsys, "--config", str(config), *RANGE).splitlines()
    assert lines[0].split()[:4] == ["Queue", "Offered", "Answered", "Abandoned"]
    assert lines[2].split()[:4] == ["sales", "4", "4", "0"]
    assert "100.0%" in lines[2]
    assert lines[3].startswith("support")


def test_a_range_without_calls_says_so(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "(no calls in this range)" in run(
        capsys, "--config", str(config), "--from", "2020-01-01", "--to", "2020-01-02"
    )


@pytest.mark.parametrize(("start", "end"), [("yesterday", "2020-01-01"), ("2020-01-05", "2020-01-01")])
def test_bad_dates_are_refused_with_a_clear_error(
    start: str, end: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--config", "config/cti.toml", "--from", start, "--to", end]) == 2
    assert "cti report:" in capsys.readouterr().err


def test_the_end_day_is_included() -> None:
    lo, hi = parse_range("2026-01-01", "2026-01-01")
    assert hi - lo in (86400, 82800, 90000)  # one local day (DST days are 23 or 25 hours)


def test_the_stores_disposition_list_says_which_codes_are_outcomes(
    config: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One list drives the card and the reports: a code the list calls a resolution counts as a success,
    one it calls ``none`` does not, whatever ``[reports] success_dispositions`` says of it."""
    assert (
        main(["store", "dispositions", "add", "follow-up", "--outcome", "resolution", "--url", db_url]) == 0
    )
    assert main(["store", "dispositions", "add", "resolved", "--outcome", "none", "--url", db_url]) == 0
    capsys.readouterr()
    out = json.loads(run(capsys, "--config", str(config), *RANGE, "--by", "agent", "--format", "json"))
    assert {r["agent"]: r["successes"] for r in out["rows"]} == {"Alice": 2, "Bob": 0}  # sale: [reports]
