"""Inbound rules: where a call goes (a queue, a priority, skills) or what closed hours do with it. Pure.

Rules are data (``[[routing.rules]]`` in cti.toml, built by ``cti.config``); ``RuleSet.decide`` is a
function of the call (DID, caller number, IVR choice, the time) and of what the store knows of the
caller (``CallerFacts``: value tier, account owner, an open complaint). No I/O, no clock: the time is
passed in (``InboundCall.at``, epoch seconds).

Theory of operation:

1. The rules are tried in order; the first whose conditions all hold wins. A condition left out
   matches anything. Conditions: ``dids`` (the dialled number), ``callers`` (exact numbers, or
   prefixes ending in ``*``), ``caller_regions`` (the caller's country, ISO codes, from the number),
   ``tiers`` (the CRM's value tier), ``owner`` (the caller has an account owner: true/false),
   ``complaint`` (an open complaint: true/false), ``choices`` (the IVR key), ``during`` (a schedule
   that must be open: lunch-time overflow, a weekend team).
2. Numbers are compared in E.164 (``phonenumbers``, with the site's default region); what does not
   parse as a number (a short internal DID, ``anonymous``) is compared as its digits.
3. A rule with a ``schedule`` routes only while that schedule is open; when it is closed the result is
   the rule's closed-hours handling (``Closed``: voicemail, a callback offer or a message), with the
   queue the call would have gone to (a callback is for that queue).
4. Schedules (``Schedule``) are weekly opening hours in the site's own time zone (``zoneinfo``: the
   daylight-saving changes are the zone's, never an offset in the config), closed on the public
   holidays of the site's country and subdivision (the ``holidays`` package: no hand-written
   tables), unless ``holiday_hours`` open it, and on the ``closed_dates`` given. The caller's own time
   zone plays no part: the site's clock decides.
5. After the rules, the default (``[routing] default_queue``, and before it the plain ``dids`` and
   ``choices`` tables, compiled as rules): ``decide`` returns None only when there is no default.
6. Total: ``decide`` never raises for any call (any text, any time); a time that is not a date (NaN,
   out of range) counts as open, so that a bad clock never shuts callers out.
7. Bad rules are refused when built (``PolicyError`` naming ``routing.rules[i] (name).key``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import phonenumbers

from cti.routing.policy import PolicyError, Requirements, SkillNeed

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class ClosedAction(Enum):
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"  # offer the caller a callback (the dialplan asks; cti queues it)
    MESSAGE = "message"  # play a message and hang up


@dataclass(frozen=True, slots=True)
class CallerFacts:
    """What the store knows of the caller (the screen pop's card), or nothing."""

    tier: str | None = None
    has_owner: bool = False
    open_complaint: bool = False


@dataclass(frozen=True, slots=True)
class InboundCall:
    did: str
    number: str
    choice: str
    at: float  # epoch seconds
    caller: CallerFacts = field(default_factory=CallerFacts)


@dataclass(frozen=True, slots=True)
class Route:
    queue: str
    priority: int = 0
    skills: tuple[SkillNeed, ...] = ()
    rule: str = ""

    def requirements(self, tier: str | None = None) -> Requirements:
        """What the router adds to the queue's own needs (``Router.enqueue(needs=...)``)."""
        return Requirements(self.skills, tier=tier, priority=self.priority)


@dataclass(frozen=True, slots=True)
class Closed:
    action: ClosedAction
    target: str  # the mailbox, the message's sound file, or "" (the dialplan's default)
    queue: str  # where the call would have gone: a callback is for this queue
    rule: str
    schedule: str


Decision = Route | Closed


def minutes(text: str, key: str) -> tuple[int, int]:
    """``"08:30-17:00"`` -> (510, 1020); the end may be 24:00; an overnight range is two days' ranges."""
    m = _RANGE.match(text.strip())
    if m is None:
        raise PolicyError(key, f"{text!r}: expected HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60:
        raise PolicyError(key, f"{text!r}: not a time of day")
    if end <= start:
        raise PolicyError(key, f"{text!r}: the end must be after the start (split overnight hours by day)")
    return start, end


@dataclass(frozen=True, slots=True)
class Schedule:
    """A site's opening hours: per weekday, in the site's time zone, with its public holidays."""

    name: str
    zone: ZoneInfo
    week: tuple[tuple[tuple[int, int], ...], ...]  # 7 days (Monday first) of (start, end) minutes
    public: holidays.HolidayBase | None = None
    holiday_hours: tuple[tuple[int, int], ...] = ()
    closed_dates: frozenset[dt.date] = frozenset()

    @classmethod
    def build(
        cls,
        name: str,
        timezone: str,
        hours: Mapping[str, Sequence[str]],
        *,
        country: str = "",
        subdivision: str = "",
        holiday_hours: Sequence[str] = (),
        closed_dates: Sequence[str] = (),
    ) -> Schedule:
        key = f"routing.schedules.{name}"
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PolicyError(f"{key}.timezone", f"unknown time zone {timezone!r}") from None
        for day in hours:
            if day not in DAYS:
                raise PolicyError(f"{key}.hours.{day}", f"unknown day (days: {', '.join(DAYS)})")
        week = tuple(tuple(sorted(minutes(r, f"{key}.hours.{d}") for r in hours.get(d, ()))) for d in DAYS)
        public = None
        if country:
            try:
                public = holidays.country_holidays(country.upper(), subdiv=subdivision or None)
            except NotImplementedError as e:
                raise PolicyError(f"{key}.country", str(e)) from None
        elif subdivision:
            raise PolicyError(f"{key}.subdivision", "a subdivision needs a country")
        dates = set()
        for i, d in enumerate(closed_dates):
            try:
                dates.add(dt.date.fromisoformat(d))
            except ValueError:
                raise PolicyError(f"{key}.closed_dates[{i}]", f"{d!r}: expected YYYY-MM-DD") from None
        extra = tuple(minutes(r, f"{key}.holiday_hours") for r in holiday_hours)
        return cls(name, zone, week, public, extra, frozenset(dates))

    def local(self, at: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(at, self.zone)

    def holiday(self, day: dt.date) -> str | None:
        """The public holiday's name on ``day`` (the site's), or None."""
        if self.public is None:
            return None
        return self.public.get(day)

    def is_open(self, at: float) -> bool:
        try:
            now = self.local(at)
        except (ValueError, OverflowError, OSError):
            return True  # rule 6
        day = now.date()
        ranges = self.week[now.weekday()]
        if day in self.closed_dates:
            return False
        if self.holiday(day) is not None:
            ranges = self.holiday_hours
        minute = now.hour * 60 + now.minute
        return any(start <= minute < end for start, end in ranges)


def normalise(number: str, region: str) -> str:
    """E.164 when it parses as a possible number, else its digits (and a leading ``+``) (rule 2)."""
    text = number.strip()
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is not None and phonenumbers.is_possible_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    digits = "".join(c for c in text if c.isdigit())
    return ("+" + digits) if text.startswith("+") and digits else (digits or text.casefold())


def region_of(e164: str) -> str | None:
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    queue: str
    dids: frozenset[str] = frozenset()
    callers: tuple[str, ...] = ()  # normalised numbers; a prefix ends in "*"
    caller_regions: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()
    owner: bool | None = None
    complaint: bool | None = None
    choices: frozenset[str] = frozenset()
    during: str = ""  # a schedule that must be open for the rule to match
    schedule: str = ""  # closed -> the closed-hours handling
    priority: int = 0
    skills: tuple[SkillNeed, ...] = ()
    closed: ClosedAction = ClosedAction.VOICEMAIL
    closed_target: str = ""

    def matches(self, did: str, number: str, region: str | None, call: InboundCall, open_: bool) -> bool:
        f = call.caller
        return (
            (not self.dids or did in self.dids)
            and (not self.callers or any(_number_matches(p, number) for p in self.callers))
            and (not self.caller_regions or region in self.caller_regions)
            and (not self.tiers or (f.tier or "") in self.tiers)
            and (self.owner is None or self.owner == f.has_owner)
            and (self.complaint is None or self.complaint == f.open_complaint)
            and (not self.choices or call.choice in self.choices)
            and open_
        )


def _number_matches(pattern: str, number: str) -> bool:
    if pattern.endswith("*"):
        return number.startswith(pattern[:-1])
    return number == pattern


class RuleSet:
    """The rules of one site, in order, then the default (rules 1, 5)."""

    def __init__(
        self,
        rules: Iterable[Rule],
        schedules: Mapping[str, Schedule],
        queues: Iterable[str],
        region: str = "US",
    ) -> None:
        self.rules = tuple(rules)
        self.schedules = dict(schedules)
        self.queues = frozenset(queues)
        self.region = region.upper()
        names: set[str] = set()
        for i, r in enumerate(self.rules):
            key = f"routing.rules[{i}] ({r.name})"
            if not r.name:
                raise PolicyError(f"routing.rules[{i}].name", "every rule needs a name")
            if r.name in names:
                raise PolicyError(f"{key}.name", f"a rule named {r.name!r} comes earlier")
            names.add(r.name)
            if r.queue not in self.queues:
                known = ", ".join(sorted(self.queues)) or "none"
                raise PolicyError(f"{key}.queue", f"{r.queue!r} is not a queue of [routing.queues] ({known})")
            for what, sched in (("schedule", r.schedule), ("during", r.during)):
                if sched and sched not in self.schedules:
                    raise PolicyError(f"{key}.{what}", f"{sched!r} is not in [routing.schedules]")

    @staticmethod
    def rule(
        index: int,
        name: str,
        queue: str,
        region: str,
        *,
        dids: Sequence[str] = (),
        callers: Sequence[str] = (),
        caller_regions: Sequence[str] = (),
        tiers: Sequence[str] = (),
        owner: bool | None = None,
        complaint: bool | None = None,
        choices: Sequence[str] = (),
        during: str = "",
        schedule: str = "",
        priority: int = 0,
        skills: Sequence[str] = (),
        closed: str = "voicemail",
        closed_target: str = "",
    ) -> Rule:
        """One rule from its configuration, numbers normalised; errors name ``routing.rules[i] (name)``."""
        key = f"routing.rules[{index}] ({name})"
        try:
            action = ClosedAction(closed)
        except ValueError:
            known = ", ".join(a.value for a in ClosedAction)
            raise PolicyError(f"{key}.closed", f"{closed!r}: must be one of {known}") from None
        for r in caller_regions:
            if r.upper() not in phonenumbers.SUPPORTED_REGIONS:
                raise PolicyError(f"{key}.caller_regions", f"unknown region code {r!r}")
        pats = []
        for c in callers:
            star = c.strip().endswith("*")
            body = c.strip().rstrip("*")
            if not body:
                raise PolicyError(f"{key}.callers", "an empty pattern matches everyone: leave callers out")
            norm = (
                (("+" if body.startswith("+") else "") + "".join(x for x in body if x.isdigit()))
                if star
                else ""
            )
            pats.append(norm + "*" if star else normalise(body, region))
        return Rule(
            name,
            queue,
            dids=frozenset(normalise(d, region) for d in dids),
            callers=tuple(pats),
            caller_regions=frozenset(r.upper() for r in caller_regions),
            tiers=frozenset(tiers),
            owner=owner,
            complaint=complaint,
            choices=frozenset(choices),
            during=during,
            schedule=schedule,
            priority=priority,
            skills=tuple(SkillNeed.parse(s, f"{key}.skills") for s in skills),
            closed=action,
            closed_target=closed_target,
        )

    def needs_facts(self, call: InboundCall) -> bool:
        """Whether the decision for ``call`` may depend on the caller's facts (tier, owner, complaint):
        a rule with such a condition comes before the first rule that matches without them. When not,
        the queue is known before the CRM answers (the daemon starts the call's queue leg at once)."""
        fact_free = InboundCall(call.did, call.number, call.choice, call.at)
        did = normalise(call.did, self.region) if call.did else ""
        number = normalise(call.number, self.region) if call.number else ""
        region = region_of(number) if number.startswith("+") else None
        for r in self.rules:
            during = self.schedules[r.during].is_open(call.at) if r.during else True
            if r.tiers or r.owner is not None or r.complaint is not None:
                other = replace(r, tiers=frozenset(), owner=None, complaint=None)
                if other.matches(did, number, region, fact_free, during):
                    return True  # it matches or not by what the CRM says
            elif r.matches(did, number, region, fact_free, during):
                return False
        return False

    def decide(self, call: InboundCall) -> Decision | None:
        did = normalise(call.did, self.region) if call.did else ""
        number = normalise(call.number, self.region) if call.number else ""
        region = region_of(number) if number.startswith("+") else None
        for r in self.rules:
            during = self.schedules[r.during].is_open(call.at) if r.during else True
            if not r.matches(did, number, region, call, during):
                continue
            if r.schedule and not self.schedules[r.schedule].is_open(call.at):
                return Closed(r.closed, r.closed_target, r.queue, r.name, r.schedule)
            return Route(r.queue, r.priority, r.skills, r.name)
        return None
