"""The predictive campaign's window budgets (stored windows + this process's counts) and its pacer."""

from __future__ import annotations

from datetime import UTC, datetime

from cti.config import CampaignConfig
from cti.delivery.dialer import Budgets, PaceView, PredictivePacer, Tally
from cti.dialer.compliance import Window, WindowState
from cti.dialer.pacing import DialerState, WindowBudget

AT = datetime(2026, 12, 2, 12, tzinfo=UTC)


def test_without_stored_windows_the_session_is_the_window() -> None:
    b = Budgets(session=Tally(100, 2, 7))
    assert b.budgets() == (WindowBudget(100, 2.0, 0.03, "session"),)


def test_stored_windows_plus_what_came_since_ofcom_counting_machines_as_false_positives() -> None:
    ftc = WindowState(Window.FTC_30D, AT, AT, 1000, 20.0, 0.03)
    ofcom = WindowState(Window.OFCOM_24H, AT, AT, 200, 5.0, 0.03, 1.0)
    b = Budgets((ftc, ofcom), 0.0, Tally(10, 1, 20))
    got = {w.name: w for w in b.budgets()}
    assert got["ftc_30d"] == WindowBudget(1010, 21.0, 0.03, "ftc_30d")
    assert got["ofcom_24h"] == WindowBudget(212, 7.0, 0.03, "ofcom_24h")  # 201 + 10 live + 20 x 5 %


def test_the_pacer_learns_the_answer_rate_and_dials_fewer_lines_as_it_rises() -> None:
    c = CampaignConfig(name="c", mode="predictive", answer_rate=0.1, max_lines=20)
    pacer = PredictivePacer()
    room = (WindowBudget(10_000, 0.0, 0.03),)
    view = PaceView(0.0, 10, DialerState(4, wrap_seconds=3.0), room, 20)
    before = pacer.predict(c, view)
    assert before > 4  # ahead of the idle agents
    for _ in range(200):
        pacer.heard(c, 10, "live", 5.0)
    later = PaceView(120.0, 10, view.state, room, 20)  # the line model is rebuilt every 60 s
    assert 4 <= pacer.predict(c, later) < before
