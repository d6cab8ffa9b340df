"""The inbound disposition list's rules (cti.core.dispositions): what a code may be, which codes a call
of a queue is offered, when a callback time is required, and what the reports count as outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from cti.core.dispositions import (
    DEFAULT_CODES,
    Code,
    DispositionError,
    build,
    build_list,
    choose,
    defaults,
    report_outcomes,
)

CODES = [
    Code("resolved", outcome="resolution", position=0),
    Code("upsell", "Upsell", outcome="sale", queues=("sales",), position=1),
    Code("call back", callback=True, position=2),
    Code("retired", active=False, position=3),
]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "code"),
        ({"code": " padded"}, "code"),
        ({"code": "a\nb"}, "code"),
        ({"code": "x" * 65}, "code"),
        ({"code": "ok", "outcome": "win"}, "outcome"),
        ({"code": "ok", "queues": "sales"}, "queues"),
        ({"code": "ok", "queues": ["sa;les"]}, "queues"),
        ({"code": "ok", "callback": "yes"}, "callback"),
        ({"code": "ok", "active": 1}, "active"),
        ({"code": "ok", "position": -1}, "position"),
        ({"code": "ok", "position": True}, "position"),
        ({"code": "ok", "label": "two\nlines"}, "label"),
    ],
)
def test_a_bad_field_is_refused_by_name(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(DispositionError) as e:
        build(raw)
    assert (e.value.code, e.value.field) == ("bad_disposition", field)


def test_a_code_is_built_with_its_defaults_and_duplicate_queues_dropped() -> None:
    code = build({"code": "follow-up", "queues": ["sales", "sales", "support"]}, 7)
    assert code == Code("follow-up", "", "none", ("sales", "support"), False, True, 7)
    assert code.to_json()["queues"] == ["sales", "support"]


def test_a_list_names_the_entry_of_a_bad_field_and_refuses_a_duplicate_code() -> None:
    with pytest.raises(DispositionError) as e:
        build_list([{"code": "a"}, {"code": "b", "outcome": "maybe"}])
    assert e.value.field == "[1].outcome"
    with pytest.raises(DispositionError) as e:
        build_list([{"code": "Sale"}, {"code": "sale"}])
    assert e.value.field == "[1].code"
    assert [c.position for c in build_list([{"code": "a"}, {"code": "b"}])] == [0, 1]


def test_choose_offers_a_queue_scoped_code_on_its_queue_only() -> None:
    assert choose(CODES, "upsell", "sales", None).code == "upsell"
    with pytest.raises(DispositionError) as e:
        choose(CODES, "upsell", "support", None)
    assert e.value.code == "disposition_not_offered"
    with pytest.raises(DispositionError):
        choose(CODES, "upsell", None, None)  # a call of no queue (a click-to-call)
    assert choose(CODES, "resolved", None, None).code == "resolved"


def test_choose_refuses_unknown_and_retired_codes() -> None:
    for code in ("sale", "retired", "RESOLVED"):
        with pytest.raises(DispositionError) as e:
            choose(CODES, code, "sales", None)
        assert (e.value.code, e.value.field) == ("unknown_disposition", "disposition")


def test_a_code_that_requires_a_callback_is_refused_without_a_time() -> None:
    with pytest.raises(DispositionError) as e:
        choose(CODES, "call back", "sales", None)
    assert (e.value.code, e.value.field) == ("callback_required", "callback_at")
    assert choose(CODES, "call back", "sales", 1.9e9).callback


def test_defaults_are_the_historical_codes_with_the_reports_meaning() -> None:
    codes = defaults(["resolved", "sale", "won"], {"resolved": "resolution", "sale": "sale"})
    assert [c.code for c in codes] == [*DEFAULT_CODES, "won"]
    meaning = {c.code: c.outcome for c in codes}
    assert (meaning["resolved"], meaning["sale"], meaning["won"], meaning["complaint"]) == (
        "resolution",
        "sale",
        "resolution",
        "none",
    )


def test_the_list_drives_the_reports_and_reports_config_covers_the_rest() -> None:
    codes = [
        Code("upsell", outcome="sale"),
        Code("resolved", outcome="none"),
        Code("fixed", outcome="resolution"),
    ]
    success, outcomes = report_outcomes(
        codes, ["resolved", "legacy"], {"resolved": "resolution", "legacy": "sale"}
    )
    assert success == {"upsell", "fixed", "legacy"}  # "resolved" means nothing now: the list says so
    assert outcomes == {"upsell": "sale", "fixed": "resolution", "legacy": "sale"}
    assert report_outcomes([], ["resolved"], {"resolved": "resolution"}) == (
        {"resolved"},
        {"resolved": "resolution"},
    )
