"""The abandon-rate windows with exact figures, and their invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.dialer.compliance import (
    Counts,
    DialOutcome,
    Window,
    WindowState,
    count,
    headroom,
    may_redial,
    report_csv,
    state,
    windows,
)

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


def _ledger() -> list[DialOutcome]:
    out: list[DialOutcome] = []
    # within 24 h: 100 live answers, 2 abandoned, 20 machines
    out += [DialOutcome(NOW - timedelta(hours=1), live_answer=True) for _ in range(98)]
    out += [DialOutcome(NOW - timedelta(hours=2), live_answer=True, abandoned=True) for _ in range(2)]
    out += [DialOutcome(NOW - timedelta(hours=3), machine=True) for _ in range(20)]
    # 5 days ago (this month, in 30 days): 100 live, 4 abandoned
    out += [DialOutcome(NOW - timedelta(days=5), live_answer=True, abandoned=i < 4) for i in range(100)]
    # 20 days ago (last month, in 30 days): 100 live, 1 abandoned
    out += [DialOutcome(NOW - timedelta(days=20), live_answer=True, abandoned=i < 1) for i in range(100)]
    # 60 days ago (life only): 100 live, 10 abandoned
    out += [DialOutcome(NOW - timedelta(days=60), live_answer=True, abandoned=i < 10) for i in range(100)]
    out += [DialOutcome(NOW - timedelta(days=60), busy) for busy in [False] * 7]  # not answered
    return out


def test_each_window_with_exact_figures() -> None:
    got = {w.window: w for w in windows(_ledger(), NOW, zone=UTC, amd_false_positive_rate=0.05)}
    ofcom = got[Window.OFCOM_24H]
    assert (ofcom.live_answers, ofcom.abandons, ofcom.limit) == (100, 3.0, 0.03)  # 2 + 20 * 0.05
    assert ofcom.estimated_false_positives == pytest.approx(1.0)
    assert ofcom.rate == pytest.approx(3.0 / 101)
    assert ofcom.headroom == pytest.approx((0.03 * 101 - 3.0) / 0.97)
    ftc30 = got[Window.FTC_30D]
    assert (ftc30.live_answers, ftc30.abandons, ftc30.limit) == (300, 7.0, 0.03)
    assert ftc30.headroom == pytest.approx((9.0 - 7.0) / 0.97)
    life = got[Window.FTC_LIFE]
    assert (life.live_answers, life.abandons, life.start) == (400, 17.0, None)
    assert life.over_limit and life.headroom == 0.0
    crtc = got[Window.CRTC_MONTH]
    assert crtc.start == datetime(2027, 3, 1, tzinfo=UTC)
    assert (crtc.live_answers, crtc.abandons, crtc.limit) == (200, 6.0, 0.05)


def test_the_crtc_month_is_the_campaign_zones_calendar_month() -> None:
    from zoneinfo import ZoneInfo

    toronto = ZoneInfo("America/Toronto")
    (start, _) = next(
        (w.start, w.end) for w in windows([], NOW, zone=toronto) if w.window is Window.CRTC_MONTH
    )
    assert start == datetime(2027, 3, 1, tzinfo=toronto)


def test_an_empty_ledger_has_zero_rate_and_zero_headroom() -> None:
    for w in windows([], NOW, zone=UTC):
        assert (w.live_answers, w.abandons, w.rate, w.headroom) == (0, 0.0, 0.0, 0.0)


def test_the_72_hour_rule() -> None:
    assert may_redial(None, NOW)
    assert not may_redial(NOW - timedelta(hours=71, minutes=59), NOW)
    assert may_redial(NOW - timedelta(hours=72), NOW)


def test_a_limit_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        headroom(10, 0, 1.0)


@given(
    live=st.integers(min_value=0, max_value=10_000),
    abandons=st.integers(min_value=0, max_value=500),
    limit=st.sampled_from([0.03, 0.05]),
)
def test_headroom_is_exactly_what_fits(live: int, abandons: int, limit: float) -> None:
    abandons = min(abandons, live)
    room = headroom(live, abandons, limit)
    fit = int(room + 1e-9)
    assert (abandons + fit) <= limit * (live + fit) + 1e-6 or room == 0.0
    assert (abandons + fit + 1) > limit * (live + fit + 1) - 1e-6


outcomes = st.lists(
    st.builds(
        lambda hours, kind: DialOutcome(
            NOW - timedelta(hours=hours),
            live_answer=kind in ("live", "abandon"),
            abandoned=kind == "abandon",
            machine=kind == "machine",
        ),
        st.integers(min_value=0, max_value=24 * 90),
        st.sampled_from(["live", "abandon", "machine", "busy"]),
    ),
    max_size=60,
)


@given(outcomes)
def test_windows_nest_and_states_come_from_counts(ledger: list[DialOutcome]) -> None:
    got = {w.window: w for w in windows(ledger, NOW, zone=UTC)}
    assert got[Window.FTC_30D].live_answers <= got[Window.FTC_LIFE].live_answers
    assert got[Window.OFCOM_24H].live_answers <= got[Window.FTC_30D].live_answers
    life = count(ledger, None, NOW)
    assert life == Counts(
        sum(o.live_answer for o in ledger), sum(o.abandoned for o in ledger), sum(o.machine for o in ledger)
    )
    assert got[Window.FTC_LIFE] == state(Window.FTC_LIFE, life, None, NOW, 0.05)
    assert isinstance(got[Window.OFCOM_24H], WindowState)


def test_the_csv_report_has_one_row_per_window_with_exact_figures() -> None:
    import csv
    import io

    text = report_csv("renewals", windows(_ledger(), NOW, zone=UTC, amd_false_positive_rate=0.05))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["window"] for r in rows] == ["ftc_30d", "ftc_life", "ofcom_24h", "crtc_month"]
    ofcom = rows[2]
    assert (ofcom["campaign"], ofcom["live_answers"], ofcom["abandons"]) == ("renewals", "100", "3")
    assert (ofcom["rate"], ofcom["limit"], ofcom["over_limit"]) == ("0.029703", "0.030000", "no")
    assert rows[1]["start"] == "" and rows[1]["over_limit"] == "yes"
