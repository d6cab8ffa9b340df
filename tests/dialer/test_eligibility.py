"""Who may be called: a table of cases, each with the reason recorded."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from cti.dialer.eligibility import CallWindow, LeadFacts, Recycle, Skip, decide, in_window, lead_zones

# 2027-01-15 15:00 UTC = 10:00 in New York, 15:00 in London, 07:00 in Los Angeles
NOW = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
NY = "+12125550001"
RECYCLING = {"busy": Recycle(600.0, 3), "no_answer": Recycle(3600.0, 2), "machine": Recycle(7200.0, 2)}

CASES: list[tuple[str, LeadFacts, datetime, Skip | None]] = [
    ("callable at 10:00 local", LeadFacts(NY), NOW, None),
    ("22:00 local is outside", LeadFacts(NY), datetime(2027, 1, 16, 3, 0, tzinfo=UTC), Skip.OUTSIDE_WINDOW),
    (
        "21:00 local is outside (end excluded)",
        LeadFacts(NY),
        datetime(2027, 1, 16, 2, 0, tzinfo=UTC),
        Skip.OUTSIDE_WINDOW,
    ),
    ("08:00 local is inside", LeadFacts(NY), datetime(2027, 1, 15, 13, 0, tzinfo=UTC), None),
    ("unparsable number: unknown tz", LeadFacts("12345"), NOW, Skip.UNKNOWN_TIMEZONE),
    ("bad override: unknown tz", LeadFacts(NY, tz_override="Mars/Olympus"), NOW, Skip.UNKNOWN_TIMEZONE),
    (
        "override wins over the number",
        LeadFacts(NY, tz_override="America/Los_Angeles"),
        NOW,
        Skip.OUTSIDE_WINDOW,
    ),
    ("toll-free spans zones: all must be inside", LeadFacts("+18005550100"), NOW, Skip.OUTSIDE_WINDOW),
    ("internal DNC", LeadFacts(NY, on_internal_dnc=True), NOW, Skip.DNC_INTERNAL),
    ("national DNC", LeadFacts(NY, on_national_dnc=True), NOW, Skip.DNC_NATIONAL),
    ("phone consent false", LeadFacts(NY, phone_consent=False), NOW, Skip.NO_CONSENT),
    ("phone consent true", LeadFacts(NY, phone_consent=True), NOW, None),
    ("open complaint", LeadFacts(NY, open_complaint=True), NOW, Skip.OPEN_COMPLAINT),
    ("abandon 71 h ago", LeadFacts(NY, last_abandon_at=NOW - timedelta(hours=71)), NOW, Skip.ABANDONED_72H),
    ("abandon 72 h ago", LeadFacts(NY, last_abandon_at=NOW - timedelta(hours=72)), NOW, None),
    (
        "busy 5 min ago (10 min delay)",
        LeadFacts(NY, attempts=1, last_outcome="busy", last_attempt_at=NOW - timedelta(minutes=5)),
        NOW,
        Skip.RECYCLE_DELAY,
    ),
    (
        "busy 10 min ago",
        LeadFacts(NY, attempts=1, last_outcome="busy", last_attempt_at=NOW - timedelta(minutes=10)),
        NOW,
        None,
    ),
    (
        "no answer 30 min ago (1 h delay)",
        LeadFacts(NY, attempts=1, last_outcome="no_answer", last_attempt_at=NOW - timedelta(minutes=30)),
        NOW,
        Skip.RECYCLE_DELAY,
    ),
    (
        "machine 3 h ago (2 h delay)",
        LeadFacts(NY, attempts=1, last_outcome="machine", last_attempt_at=NOW - timedelta(hours=3)),
        NOW,
        None,
    ),
    (
        "no answer max 2 reached",
        LeadFacts(NY, attempts=2, last_outcome="no_answer", last_attempt_at=NOW - timedelta(days=1)),
        NOW,
        Skip.MAX_ATTEMPTS,
    ),
    (
        "busy max 3 not reached",
        LeadFacts(NY, attempts=2, last_outcome="busy", last_attempt_at=NOW - timedelta(days=1)),
        NOW,
        None,
    ),
    (
        "DNC reported before the window",
        LeadFacts(NY, on_internal_dnc=True),
        datetime(2027, 1, 16, 3, 0, tzinfo=UTC),
        Skip.DNC_INTERNAL,
    ),
]


@pytest.mark.parametrize(("lead", "now", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_who_may_be_called(lead: LeadFacts, now: datetime, reason: Skip | None) -> None:
    decision = decide(lead, now, recycling=RECYCLING)
    assert decision.reason is reason
    assert decision.callable is (reason is None)


def test_time_based_skips_say_when_they_lift() -> None:
    abandon = NOW - timedelta(hours=10)
    assert decide(LeadFacts(NY, last_abandon_at=abandon), NOW).not_before == abandon + timedelta(hours=72)


def test_zones_of_a_number_and_the_window_across_midnight() -> None:
    assert lead_zones(NY) == ("America/New_York",)
    assert lead_zones("+447911123456") and all(z.startswith("Europe/") for z in lead_zones("+447911123456"))
    assert lead_zones(NY, "Asia/Tokyo") == ("Asia/Tokyo",)
    assert not in_window((), NOW, CallWindow())
    night = CallWindow(time(22, 0), time(2, 0))
    assert in_window(("America/New_York",), datetime(2027, 1, 16, 4, 0, tzinfo=UTC), night)  # 23:00
    assert not in_window(("America/New_York",), NOW, night)


def test_a_window_is_parsed_or_refused_clearly() -> None:
    assert CallWindow.parse("08:00-21:00") == CallWindow()
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        CallWindow.parse("8 to 9")


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        decide(LeadFacts(NY), datetime(2027, 1, 15, 15, 0))
