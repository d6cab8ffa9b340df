"""Inbound rules as tables: DID, caller, CRM facts, IVR choice, weekly hours, daylight saving, public
holidays, a caller in another time zone; bad rules named; a property: the rules are total."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.config import parse_config
from cti.core.errors import ConfigError
from cti.routing.policy import SkillNeed
from cti.routing.rules import CallerFacts, Closed, ClosedAction, InboundCall, Route, RuleSet
from tests.conftest import examples

WEEK = '["08:00-18:00"]'


def weekdays(hours: str) -> str:
    return "{ " + ", ".join(f'{d} = ["{hours}"]' for d in ("mon", "tue", "wed", "thu", "fri")) + " }"


CONFIG = f"""
[store]
default_country = "FR"
[routing]
default_queue = "sales"
[routing.queues.sales]
[routing.queues.support]
[routing.queues.complaints]
[routing.queues.vip]
[routing.schedules.paris]
timezone = "Europe/Paris"
country = "FR"
hours = {{ mon = {WEEK}, tue = {WEEK}, wed = {WEEK}, thu = {WEEK}, fri = {WEEK}, sat = ["09:00-12:00"] }}
[routing.schedules.newyork]
timezone = "America/New_York"
country = "US"
subdivision = "NY"
hours = {weekdays("09:00-17:00")}
[routing.schedules.lunch]
timezone = "Europe/Paris"
hours = {weekdays("12:00-14:00")}

[[routing.rules]]
name = "open complaint"
complaint = true
queue = "complaints"
skills = ["complaints:1"]
priority = 5
schedule = "paris"
closed = "callback"

[[routing.rules]]
name = "tier A"
tiers = ["A"]
queue = "vip"
priority = 10

[[routing.rules]]
name = "us line"
dids = ["+1 212 555 0100"]
queue = "support"
schedule = "newyork"
closed = "message"
closed_target = "closed-ny"

[[routing.rules]]
name = "lunch overflow"
during = "lunch"
choices = ["2"]
queue = "sales"

[[routing.rules]]
name = "support key"
choices = ["2"]
queue = "support"
schedule = "paris"
closed_target = "2000@support"

[[routing.rules]]
name = "uk callers"
caller_regions = ["GB"]
queue = "support"
priority = 2

[[routing.rules]]
name = "blocked prefix"
callers = ["+3389*"]
queue = "sales"
priority = -5

[[routing.rules]]
name = "paris line"
dids = ["01 40 00 00 00"]
queue = "sales"
schedule = "paris"
"""

RULES = parse_config(CONFIG).routing.ruleset("FR")
PARIS, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
FR_MOBILE, NY_NUMBER, UK_NUMBER = "+33612345678", "+12125550199", "+442079460000"
PARIS_DID, US_DID = "0140000000", "0012125550100"  # as a French trunk gives them


def at(local: str, zone: ZoneInfo = PARIS) -> float:
    return dt.datetime.fromisoformat(local).replace(tzinfo=zone).timestamp()


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def route(queue: str, rule: str, priority: int = 0, skills: tuple[SkillNeed, ...] = ()) -> Route:
    return Route(queue, priority, skills, rule)


def closed(action: ClosedAction, queue: str, rule: str, schedule: str, target: str = "") -> Closed:
    return Closed(action, target, queue, rule, schedule)


A = CallerFacts(tier="A")
COMPLAINT = CallerFacts(tier="B", has_owner=True, open_complaint=True)
VOICEMAIL, CALLBACK, MESSAGE = ClosedAction.VOICEMAIL, ClosedAction.CALLBACK, ClosedAction.MESSAGE


@pytest.mark.parametrize(
    ("did", "number", "choice", "when", "facts", "expected"),
    [
        # the DID, weekly hours in the site's zone
        (PARIS_DID, FR_MOBILE, "", at("2026-10-21 10:00"), CallerFacts(), route("sales", "paris line")),
        (
            PARIS_DID,
            FR_MOBILE,
            "",
            at("2026-10-21 18:00"),
            CallerFacts(),
            closed(VOICEMAIL, "sales", "paris line", "paris"),
        ),
        (PARIS_DID, FR_MOBILE, "", at("2026-10-24 11:59"), CallerFacts(), route("sales", "paris line")),
        (
            PARIS_DID,
            FR_MOBILE,
            "",
            at("2026-10-25 11:00"),
            CallerFacts(),
            closed(VOICEMAIL, "sales", "paris line", "paris"),
        ),
        # the same DID as dialled in national and in E.164 form
        (
            "+33 1 40 00 00 00",
            FR_MOBILE,
            "",
            at("2026-10-21 10:00"),
            CallerFacts(),
            route("sales", "paris line"),
        ),
        # daylight saving: 06:30 UTC is 08:30 in Paris on Friday 23 October (CEST), 07:30 on Monday 26
        # (CET, after the change on the 25th): open, then closed, at the same UTC time of day
        (PARIS_DID, FR_MOBILE, "", utc("2026-10-23 06:30"), CallerFacts(), route("sales", "paris line")),
        (
            PARIS_DID,
            FR_MOBILE,
            "",
            utc("2026-10-26 06:30"),
            CallerFacts(),
            closed(VOICEMAIL, "sales", "paris line", "paris"),
        ),
        (PARIS_DID, FR_MOBILE, "", utc("2026-10-26 07:30"), CallerFacts(), route("sales", "paris line")),
        # a public holiday (14 July, a Tuesday): closed all day; tier A goes to vip around the clock
        (
            PARIS_DID,
            FR_MOBILE,
            "",
            at("2026-07-14 10:00"),
            CallerFacts(),
            closed(VOICEMAIL, "sales", "paris line", "paris"),
        ),
        (PARIS_DID, FR_MOBILE, "", at("2026-07-14 10:00"), A, route("vip", "tier A", 10)),
        (PARIS_DID, FR_MOBILE, "", at("2026-07-15 10:00"), CallerFacts(), route("sales", "paris line")),
        # New York's line on New York's clock and holidays (Thanksgiving); the US clocks change on 1 November
        (US_DID, NY_NUMBER, "", at("2026-11-25 16:30", NEW_YORK), CallerFacts(), route("support", "us line")),
        (
            US_DID,
            NY_NUMBER,
            "",
            at("2026-11-26 10:00", NEW_YORK),
            CallerFacts(),
            closed(MESSAGE, "support", "us line", "newyork", "closed-ny"),
        ),
        (
            US_DID,
            NY_NUMBER,
            "",
            utc("2026-10-30 13:30"),
            CallerFacts(),
            route("support", "us line"),
        ),  # 09:30 EDT
        (
            US_DID,
            NY_NUMBER,
            "",
            utc("2026-11-02 13:30"),
            CallerFacts(),
            closed(MESSAGE, "support", "us line", "newyork", "closed-ny"),
        ),  # 08:30 EST
        # a caller in another time zone: midday in New York is 18:30 in Paris: the Paris line is closed
        (
            PARIS_DID,
            NY_NUMBER,
            "",
            at("2026-10-21 12:30", NEW_YORK),
            CallerFacts(),
            closed(VOICEMAIL, "sales", "paris line", "paris"),
        ),
        (
            PARIS_DID,
            NY_NUMBER,
            "",
            at("2026-10-21 03:30", NEW_YORK),
            CallerFacts(),
            route("sales", "paris line"),
        ),
        # the IVR choice, with a lunch-time overflow that only matches during lunch
        ("", FR_MOBILE, "2", at("2026-10-21 10:00"), CallerFacts(), route("support", "support key")),
        ("", FR_MOBILE, "2", at("2026-10-21 12:30"), CallerFacts(), route("sales", "lunch overflow")),
        (
            "",
            FR_MOBILE,
            "2",
            at("2026-10-21 20:00"),
            CallerFacts(),
            closed(VOICEMAIL, "support", "support key", "paris", "2000@support"),
        ),
        # what the store knows: an open complaint first (its skill, a callback out of hours), then tier A
        (
            PARIS_DID,
            FR_MOBILE,
            "2",
            at("2026-10-21 10:00"),
            COMPLAINT,
            route("complaints", "open complaint", 5, (SkillNeed("complaints"),)),
        ),
        (
            PARIS_DID,
            FR_MOBILE,
            "2",
            at("2026-10-21 21:00"),
            COMPLAINT,
            closed(CALLBACK, "complaints", "open complaint", "paris"),
        ),
        (US_DID, NY_NUMBER, "", at("2026-11-26 10:00", NEW_YORK), A, route("vip", "tier A", 10)),
        # the caller's number: country, then a prefix
        ("", UK_NUMBER, "", at("2026-10-21 10:00"), CallerFacts(), route("support", "uk callers", 2)),
        (
            "",
            "0033 8 91 23 45 67",
            "",
            at("2026-10-21 10:00"),
            CallerFacts(),
            route("sales", "blocked prefix", -5),
        ),
        # nothing matches: the default queue
        ("999", "anonymous", "", at("2026-10-21 10:00"), CallerFacts(), route("sales", "default_queue")),
        ("", "", "9", math.nan, CallerFacts(), route("sales", "default_queue")),
    ],
)
def test_inbound_rules(
    did: str, number: str, choice: str, when: float, facts: CallerFacts, expected: Route | Closed
) -> None:
    assert RULES.decide(InboundCall(did, number, choice, when, facts)) == expected


def test_the_schedule_knows_the_holiday_by_name() -> None:
    assert RULES.schedules["paris"].holiday(dt.date(2026, 7, 14)) is not None
    assert RULES.schedules["paris"].holiday(dt.date(2026, 7, 15)) is None


def test_holiday_hours_open_a_holiday_and_closed_dates_close_a_day() -> None:
    cfg = parse_config(
        """
[routing.queues.q]
[routing.schedules.s]
timezone = "Europe/Paris"
country = "FR"
hours = { mon = ["08:00-18:00"], tue = ["08:00-18:00"], wed = ["08:00-18:00"] }
holiday_hours = ["10:00-12:00"]
closed_dates = ["2026-10-21"]
[[routing.rules]]
name = "r"
queue = "q"
schedule = "s"
"""
    )
    rules = cfg.routing.ruleset("FR")

    def kind(local: str) -> str:
        d = rules.decide(InboundCall("", "", "", at(local)))
        return type(d).__name__

    assert [kind("2026-07-14 09:00"), kind("2026-07-14 11:00"), kind("2026-10-21 11:00")] == [
        "Closed",
        "Route",
        "Closed",
    ]
    assert kind("2026-10-20 11:00") == "Route"


def test_without_a_default_a_call_that_matches_nothing_has_no_queue() -> None:
    rules = parse_config('[routing.queues.q]\n[routing.dids]\n"300" = "q"\n').routing.ruleset("US")
    assert rules.decide(InboundCall("301", "", "", 0.0)) is None
    assert rules.decide(InboundCall("300", "", "", 0.0)) == Route("q", rule="dids.300")


@pytest.mark.parametrize(
    ("rule", "key", "reason"),
    [
        ('name = "x"\nqueue = "nope"', "routing.rules[0] (x).queue", "'nope' is not a queue"),
        (
            'name = "x"\nqueue = "q"\nschedule = "night"',
            "routing.rules[0] (x).schedule",
            "not in [routing.schedules]",
        ),
        (
            'name = "x"\nqueue = "q"\nduring = "night"',
            "routing.rules[0] (x).during",
            "not in [routing.schedules]",
        ),
        ('name = "x"\nqueue = "q"\nclosed = "hangup"', "routing.rules[0] (x).closed", "must be one of"),
        ('name = "x"\nqueue = "q"\nskills = ["q:11"]', "routing.rules[0] (x).skills", "must be 1..10"),
        (
            'name = "x"\nqueue = "q"\ncaller_regions = ["XX"]',
            "routing.rules[0] (x).caller_regions",
            "unknown region",
        ),
        ('name = "x"\nqueue = "q"\ncallers = ["*"]', "routing.rules[0] (x).callers", "matches everyone"),
        ('queue = "q"', "routing.rules[0].name", "needs a name"),
        ('name = "x"\nqueue = "q"\npriority = "high"', "routing.rules[0].priority", "expected int"),
        ('name = "x"\nqueue = "q"\nwhen = "night"', "routing.rules[0].when", "unknown key"),
    ],
)
def test_a_bad_rule_is_a_config_error_naming_the_rule(rule: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(f"[routing.queues.q]\n[[routing.rules]]\n{rule}\n")
    assert e.value.key == key and reason in str(e.value)


def test_a_duplicate_rule_name_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"routing.rules\[1\] \(x\).name"):
        parse_config(
            '[routing.queues.q]\n[[routing.rules]]\nname = "x"\nqueue = "q"\n'
            '[[routing.rules]]\nname = "x"\nqueue = "q"\n'
        )


@pytest.mark.parametrize(
    ("schedule", "key", "reason"),
    [
        ('timezone = "Mars/Olympus"', "routing.schedules.s.timezone", "unknown time zone"),
        ('country = "XX"', "routing.schedules.s.country", "not available"),
        ('country = "US"\nsubdivision = "ZZ"', "routing.schedules.s.country", "subdivision"),
        ('subdivision = "CA"', "routing.schedules.s.subdivision", "needs a country"),
        ('hours = { monday = ["08:00-18:00"] }', "routing.schedules.s.hours.monday", "unknown day"),
        ('hours = { mon = ["18:00-08:00"] }', "routing.schedules.s.hours.mon", "after the start"),
        ('hours = { mon = ["8h-18h"] }', "routing.schedules.s.hours.mon", "HH:MM-HH:MM"),
        ('hours = { mon = ["08:00-24:30"] }', "routing.schedules.s.hours.mon", "not a time of day"),
        ('closed_dates = ["24/12/2026"]', "routing.schedules.s.closed_dates[0]", "YYYY-MM-DD"),
    ],
)
def test_a_bad_schedule_is_a_config_error_naming_the_key(schedule: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(f"[routing.queues.q]\n[routing.schedules.s]\n{schedule}\n")
    assert e.value.key == key and reason in str(e.value)


# ---- property: the rules are total ---------------------------------------------------------------------
QUEUES = ["a", "b", "c"]
TEXT = st.text(max_size=20)
TIMES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1.7e9, max_value=1.9e9),
)
FACTS = st.builds(
    CallerFacts, st.one_of(st.none(), st.sampled_from(["A", "B", "C", ""])), st.booleans(), st.booleans()
)


@st.composite
def rule_sets(draw: st.DrawFn) -> tuple[RuleSet, bool]:
    schedules = {"s": RULES.schedules["paris"], "n": RULES.schedules["newyork"]}
    rules = []
    for i in range(draw(st.integers(0, 6))):
        rules.append(
            RuleSet.rule(
                i,
                f"r{i}",
                draw(st.sampled_from(QUEUES)),
                "FR",
                dids=draw(st.lists(st.sampled_from(["0140000000", "300", "+12125550100"]), max_size=2)),
                callers=draw(st.lists(st.sampled_from(["+33*", "+1212*", "0612345678"]), max_size=2)),
                caller_regions=draw(st.lists(st.sampled_from(["FR", "US", "GB"]), max_size=2)),
                tiers=draw(st.lists(st.sampled_from(["A", "B"]), max_size=1)),
                owner=draw(st.sampled_from([None, True, False])),
                complaint=draw(st.sampled_from([None, True, False])),
                choices=draw(st.lists(st.sampled_from(["1", "2"]), max_size=1)),
                during=draw(st.sampled_from(["", "s", "n"])),
                schedule=draw(st.sampled_from(["", "s", "n"])),
                priority=draw(st.integers(-5, 10)),
                closed=draw(st.sampled_from([a.value for a in ClosedAction])),
            )
        )
    default = draw(st.booleans())
    if default:
        rules.append(RuleSet.rule(len(rules), "default_queue", draw(st.sampled_from(QUEUES)), "FR"))
    return RuleSet(rules, schedules, QUEUES, "FR"), default


@settings(max_examples=examples(100))
@given(
    rule_sets(), TEXT, st.one_of(TEXT, st.sampled_from([FR_MOBILE, NY_NUMBER, UK_NUMBER])), TEXT, TIMES, FACTS
)
def test_rules_are_total_and_name_only_known_queues(
    built: tuple[RuleSet, bool], did: str, number: str, choice: str, when: float, facts: CallerFacts
) -> None:
    rules, has_default = built
    decision = rules.decide(InboundCall(did, number, choice, when, facts))
    if has_default:
        assert decision is not None
    if decision is not None:
        assert decision.queue in QUEUES
        assert decision.rule in {r.name for r in rules.rules}
    # first match wins: no earlier rule matched (its conditions, before its schedule)
    if decision is not None:
        first = next(i for i, r in enumerate(rules.rules) if r.name == decision.rule)
        for r in rules.rules[:first]:
            alone = RuleSet([r], rules.schedules, QUEUES, "FR")
            assert alone.decide(InboundCall(did, number, choice, when, facts)) is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[agi]\nport = 70000\n", "agi.port"),
        ("[agi]\ndeadline = 0\n", "agi.deadline"),
        ("[agi]\nheader_timeout = -1\n", "agi.header_timeout"),
        ("[agi]\nlisten = 4\n", "agi.listen"),
        ("[routing]\ndefault_handle_seconds = 0\n", "routing.default_handle_seconds"),
    ],
)
def test_bad_agi_and_ewt_settings_are_config_errors(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert e.value.key == key


@pytest.mark.parametrize(
    ("did", "choice", "needs"),
    [
        (PARIS_DID, "", True),  # "open complaint" (any DID) comes first: the CRM decides
        (US_DID, "", True),
    ],
)
def test_whether_the_decision_waits_for_the_crm(did: str, choice: str, needs: bool) -> None:
    assert RULES.needs_facts(InboundCall(did, FR_MOBILE, choice, at("2026-10-21 10:00"))) is needs


def test_a_decision_before_any_fact_rule_does_not_wait_for_the_crm() -> None:
    cfg = parse_config(
        '[routing.queues.q]\n[routing.queues.vip]\n[[routing.rules]]\nname = "line"\ndids = ["300"]\n'
        'queue = "q"\n[[routing.rules]]\nname = "vip"\ntiers = ["A"]\nqueue = "vip"\n'
        '[[routing.rules]]\nname = "vip line"\ndids = ["400"]\ntiers = ["A"]\nqueue = "vip"\n'
    )
    rules = cfg.routing.ruleset("US")
    assert not rules.needs_facts(InboundCall("300", "", "", 0.0))  # "line" matches first
    assert rules.needs_facts(InboundCall("301", "", "", 0.0))  # "vip" may match: ask the CRM
    only_400 = parse_config(
        '[routing.queues.q]\n[[routing.rules]]\nname = "vip line"\ndids = ["400"]\n'
        'tiers = ["A"]\nqueue = "q"\n'
    ).routing.ruleset("US")
    assert not only_400.needs_facts(InboundCall("301", "", "", 0.0))  # its DID does not match anyway
