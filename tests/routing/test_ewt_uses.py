"""Where the estimated wait is used: the callback offer and the overflow by EWT at entry, as pure decisions
(cti/routing/ewt.py ``offers_callback``, ``overflow_queue``; the settings in cti/routing/policy.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.routing.ewt import offers_callback, overflow_queue
from cti.routing.policy import PolicyError, QueuePolicy, check_overflows
from tests.conftest import examples

SALES = QueuePolicy("sales", overflow_if_ewt_above=300.0, overflow_to="general")
GENERAL = QueuePolicy("general")
BOTH = {"sales": SALES, "general": GENERAL}


@pytest.mark.parametrize(
    ("here", "there", "expected"),
    [
        (301.0, 60.0, "general"),  # above the threshold, shorter there: overflow
        (300.0, 60.0, None),  # at the threshold: stays (above, not at)
        (120.0, 0.0, None),  # under the threshold: stays
        (math.inf, 60.0, "general"),  # nobody serves sales: the overflow queue does
        (400.0, 400.0, None),  # no shorter there: an overflow never lengthens the wait
        (400.0, 900.0, None),
        (math.inf, math.inf, None),  # nobody anywhere: stays where its rule put it
        (math.nan, 60.0, None),  # unknown estimate: stays
        (400.0, math.nan, None),
    ],
)
def test_the_overflow_decision(here: float, there: float, expected: str | None) -> None:
    waits = {"sales": here, "general": there}
    assert overflow_queue("sales", BOTH, waits.__getitem__) == expected


def test_no_overflow_without_the_settings_nor_to_an_unknown_queue() -> None:
    asked: list[str] = []

    def wait(queue: str) -> float:
        asked.append(queue)
        return 1000.0

    assert overflow_queue("general", BOTH, wait) is None  # general has no overflow
    assert overflow_queue("nowhere", BOTH, wait) is None  # not a queue
    assert overflow_queue("sales", {"sales": SALES}, wait) is None  # its overflow_to is unknown
    assert asked == []  # the estimate is only computed for a queue that may overflow


@pytest.mark.parametrize(
    ("above", "seconds", "offered"),
    [
        (120.0, 121.0, True),
        (120.0, math.inf, True),  # nobody serves the call: the longest wait of all
        (120.0, 120.0, False),
        (120.0, 30.0, False),
        (120.0, math.nan, False),  # unknown: not offered
        (0.0, 10_000.0, False),  # 0: off
    ],
)
def test_the_callback_offer(above: float, seconds: float, offered: bool) -> None:
    assert offers_callback(QueuePolicy("sales", offer_callback_above=above), seconds) is offered


NAMES = st.sampled_from(["a", "b", "c", "d"])
WAIT = st.one_of(st.floats(min_value=0, max_value=3600), st.just(math.inf), st.just(math.nan))


@st.composite
def setups(draw: st.DrawFn) -> tuple[dict[str, QueuePolicy], str, dict[str, float]]:
    names = draw(st.sets(NAMES, min_size=1))
    out: dict[str, QueuePolicy] = {}
    for name in sorted(names):
        others = sorted({"a", "b", "c", "d"} - {name})
        target = draw(st.one_of(st.none(), st.sampled_from(others)))
        above = draw(st.floats(min_value=1, max_value=1800)) if target is not None else 0.0
        out[name] = QueuePolicy(name, overflow_if_ewt_above=above, overflow_to=target)
    queue = draw(NAMES)
    waits = {n: draw(WAIT) for n in ["a", "b", "c", "d"]}
    return out, queue, waits


@settings(max_examples=examples(300))
@given(setups())
def test_an_overflow_goes_to_a_known_queue_only_above_the_threshold_and_to_a_shorter_wait(
    setup: tuple[dict[str, QueuePolicy], str, dict[str, float]],
) -> None:
    pols, queue, waits = setup
    target = overflow_queue(queue, pols, waits.__getitem__)
    if target is None:
        return
    policy = pols[queue]
    assert target in pols and target != queue  # never to an unknown queue, never to itself
    assert target == policy.overflow_to
    assert waits[queue] > policy.overflow_if_ewt_above  # never when under (or at) the threshold
    assert waits[target] < waits[queue]  # never to a longer wait


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"overflow_to": "general"}, "routing.queues.sales.overflow_if_ewt_above"),
        ({"overflow_if_ewt_above": 300.0}, "routing.queues.sales.overflow_to"),
        ({"overflow_if_ewt_above": 300.0, "overflow_to": "sales"}, "routing.queues.sales.overflow_to"),
        (
            {"overflow_if_ewt_above": -1.0, "overflow_to": "general"},
            "routing.queues.sales.overflow_if_ewt_above",
        ),
        ({"offer_callback_above": -5.0}, "routing.queues.sales.offer_callback_above"),
        ({"offer_callback_above": math.nan}, "routing.queues.sales.offer_callback_above"),
    ],
)
def test_bad_settings_name_the_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(PolicyError) as e:
        QueuePolicy("sales", **kwargs)  # type: ignore[arg-type]
    assert e.value.key == key


def test_an_overflow_to_an_unknown_queue_names_the_key() -> None:
    with pytest.raises(PolicyError) as e:
        check_overflows({"sales": SALES})
    assert e.value.key == "routing.queues.sales.overflow_to"
    check_overflows(BOTH)
