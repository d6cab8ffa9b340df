"""Who may be called: one pure decision per lead, with the reason of every skip.

The checks run in a fixed order and the first that fails is the reason (docs/design/campaigns.md):

1. ``dnc_internal`` / ``dnc_national``: the number is on the internal or an imported national list;
2. ``no_consent``: the contact's phone consent is false;
3. ``open_complaint``: the customer has an open ticket (never sell to someone whose problem is open);
4. ``abandoned_72h``: an abandoned call to this number less than 72 h ago (Ofcom);
5. ``max_attempts``: the lead has been dialled as often as its outcome's recycling allows;
6. ``recycle_delay``: the last outcome's recycle delay has not elapsed yet;
7. ``unknown_timezone``: no time zone from the override nor from the number (NOT called);
8. ``outside_window``: the lead's local time, in every zone its number may be in, is not inside the window.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from cti.dialer.compliance import ABANDON_NO_REDIAL, may_redial

DEFAULT_WINDOW_START = time(8, 0)
DEFAULT_WINDOW_END = time(21, 0)


class Skip(enum.StrEnum):
    """Why a lead is not dialled now (counted per reason)."""

    DNC_INTERNAL = "dnc_internal"
    DNC_NATIONAL = "dnc_national"
    NO_CONSENT = "no_consent"
    OPEN_COMPLAINT = "open_complaint"
    ABANDONED_72H = "abandoned_72h"
    MAX_ATTEMPTS = "max_attempts"
    RECYCLE_DELAY = "recycle_delay"
    UNKNOWN_TIMEZONE = "unknown_timezone"
    OUTSIDE_WINDOW = "outside_window"


@dataclass(frozen=True, slots=True)
class CallWindow:
    """Local hours [start, end) in which a lead may be called; end < start crosses midnight."""

    start: time = DEFAULT_WINDOW_START
    end: time = DEFAULT_WINDOW_END

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    @classmethod
    def parse(cls, text: str) -> CallWindow:
        """``"08:00-21:00"`` -> a window; a clear ``ValueError`` otherwise."""
        try:
            a, b = text.split("-")
            return cls(time.fromisoformat(a.strip()), time.fromisoformat(b.strip()))
        except ValueError:
            raise ValueError(f"call window {text!r}: expected HH:MM-HH:MM") from None


@dataclass(frozen=True, slots=True)
class Recycle:
    """How an outcome is retried: after ``delay`` seconds, while attempts < ``max_attempts``."""

    delay: float
    max_attempts: int


DEFAULT_RECYCLING: Mapping[str, Recycle] = {
    "busy": Recycle(delay=600.0, max_attempts=5),
    "no_answer": Recycle(delay=3600.0, max_attempts=4),
    "machine": Recycle(delay=4 * 3600.0, max_attempts=3),
}


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What the decision needs to know about one lead (gathered by the store)."""

    e164: str
    tz_override: str = ""
    attempts: int = 0
    last_outcome: str = ""  # busy, no_answer, machine, ... ("" never dialled)
    last_attempt_at: datetime | None = None
    on_internal_dnc: bool = False
    on_national_dnc: bool = False
    phone_consent: bool | None = None  # None: not stated (allowed); False: not called
    open_complaint: bool = False
    last_abandon_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    callable: bool
    reason: Skip | None = None
    zones: tuple[str, ...] = field(default=())
    not_before: datetime | None = None  # when a time-based skip may lift (delay, 72 h)


def lead_zones(e164: str, override: str = "") -> tuple[str, ...]:
    """The time zones a lead may be in: the override alone, else every zone of the number's prefix.

    An invalid override, an unparsable number or phonenumbers' "unknown" give ``()``."""
    if override:
        return (override,) if _zone(override) is not None else ()
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if _zone(z) is not None)
    return zones


def in_window(zones: tuple[str, ...], now: datetime, window: CallWindow) -> bool:
    """True only when there is at least one zone and ``now`` is inside the window in ALL of them."""
    if not zones:
        return False
    for name in zones:
        zone = _zone(name)
        if zone is None or not window.contains(now.astimezone(zone).time()):
            return False
    return True


def decide(
    lead: LeadFacts,
    now: datetime,
    *,
    window: CallWindow = CallWindow(),
    recycling: Mapping[str, Recycle] = DEFAULT_RECYCLING,
) -> Decision:
    """Whether ``lead`` may be dialled at ``now`` (an aware datetime), and if not, the first reason."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if lead.on_internal_dnc:
        return Decision(False, Skip.DNC_INTERNAL)
    if lead.on_national_dnc:
        return Decision(False, Skip.DNC_NATIONAL)
    if lead.phone_consent is False:
        return Decision(False, Skip.NO_CONSENT)
    if lead.open_complaint:
        return Decision(False, Skip.OPEN_COMPLAINT)
    if lead.last_abandon_at is not None and not may_redial(lead.last_abandon_at, now):
        return Decision(False, Skip.ABANDONED_72H, not_before=lead.last_abandon_at + ABANDON_NO_REDIAL)
    rule = recycling.get(lead.last_outcome)
    if rule is not None:
        if lead.attempts >= rule.max_attempts:
            return Decision(False, Skip.MAX_ATTEMPTS)
        if lead.last_attempt_at is not None:
            ready = lead.last_attempt_at + timedelta(seconds=rule.delay)
            if now < ready:
                return Decision(False, Skip.RECYCLE_DELAY, not_before=ready)
    zones = lead_zones(lead.e164, lead.tz_override)
    if not zones:
        return Decision(False, Skip.UNKNOWN_TIMEZONE)
    if not in_window(zones, now, window):
        return Decision(False, Skip.OUTSIDE_WINDOW, zones=zones)
    return Decision(True, None, zones=zones)


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def in_calling_hours(e164: str, tz: str, at: float, start_hour: int, end_hour: int) -> bool:
    """Whether the lead's local time is in [start_hour, end_hour) in every zone it may be in.

    The zone is the lead's ``tz`` override, else the number's (``phonenumbers``); when it is unknown the
    lead is NOT called (docs/design/campaigns.md)."""
    window = CallWindow(time(start_hour % 24), time(end_hour % 24))
    if end_hour >= 24 and start_hour == 0:
        return bool(lead_zones(e164, tz))
    return in_window(lead_zones(e164, tz), datetime.fromtimestamp(at, UTC), window)
