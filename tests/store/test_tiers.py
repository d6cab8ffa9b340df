from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.store.tiers import (
    DAY,
    Activity,
    Tier,
    TierPolicy,
    assess,
    frequency_score,
    monetary_scores,
    recency_score,
    tiers,
)

NOW = 1_800_000_000.0
RANK = {Tier.A: 0, Tier.B: 1, Tier.C: 2}


def known_set() -> dict[str, float]:
    """40 customers: 5% is 2 customers, 20% is 8."""
    spend = {
        "c01": 1000.0,
        "c02": 900.0,
        "c03": 800.0,  # c03/c04 tie inside B
        "c04": 800.0,
        "c05": 700.0,
        "c06": 600.0,
        "c07": 500.0,
        "c08": 300.0,  # c08/c09 tie across the B boundary (they would be 8th and 9th): both C
        "c09": 300.0,
    }
    for i in range(10, 41):
        spend[f"c{i:02d}"] = 10.0 if i % 2 else 0.0
    return spend


def test_tiers_on_the_known_data_set_are_exact() -> None:
    result = tiers(known_set())
    assert [k for k, t in sorted(result.items()) if t is Tier.A] == ["c01", "c02"]
    assert [k for k, t in sorted(result.items()) if t is Tier.B] == ["c03", "c04", "c05", "c06", "c07"]
    assert sum(t is Tier.C for t in result.values()) == 33


def test_a_tie_that_would_overflow_the_top_5_percent_drops_to_b_as_a_whole() -> None:
    spend = {f"c{i}": 0.0 for i in range(40)}
    spend.update({"c0": 1000.0, "c1": 1000.0, "c2": 1000.0})
    result = tiers(spend)
    assert {result["c0"], result["c1"], result["c2"]} == {Tier.B}
    assert Tier.A not in result.values()


def test_exactly_on_the_boundary_is_inside() -> None:
    spend = {f"c{i}": float(i) for i in range(20)}  # 5% of 20 is one customer, 20% is four
    result = tiers(spend)
    assert result["c19"] is Tier.A
    assert [result[f"c{i}"] for i in (18, 17, 16)] == [Tier.B] * 3
    assert result["c15"] is Tier.C


def test_fewer_than_20_customers_have_no_tier_a() -> None:
    assert Tier.A not in tiers({f"c{i}": float(i + 1) for i in range(19)}).values()


def test_zero_spend_is_always_c() -> None:
    assert set(tiers({"a": 0.0, "b": 0.0}).values()) == {Tier.C}
    assert tiers({}) == {}


def test_the_shares_are_configurable() -> None:
    spend = {f"c{i}": float(i) for i in range(10)}
    result = tiers(spend, a_share=0.1, b_share=0.2)
    assert result["c9"] is Tier.A and result["c8"] is Tier.B and result["c7"] is Tier.B
    assert result["c6"] is Tier.C


@pytest.mark.parametrize(
    ("days_ago", "score"),
    [(0, 5), (30, 5), (30.001, 4), (90, 4), (91, 3), (180, 3), (181, 2), (365, 2), (366, 1), (None, 1)],
)
def test_recency_scores_by_days_since_the_last_order(days_ago: float | None, score: int) -> None:
    last = None if days_ago is None else NOW - days_ago * DAY
    assert recency_score(last, NOW) == score


@pytest.mark.parametrize(
    ("orders", "score"), [(0, 1), (1, 1), (2, 2), (3, 3), (5, 3), (6, 4), (11, 4), (12, 5)]
)
def test_frequency_scores_by_orders_in_the_window(orders: int, score: int) -> None:
    assert frequency_score(orders) == score


def test_monetary_scores_rank_buyers_in_quarters_and_ties_share_a_score() -> None:
    assert monetary_scores({"z": 0.0, "a": 10.0, "b": 20.0, "c": 30.0, "d": 40.0}) == {
        "z": 1,
        "a": 2,
        "b": 3,
        "c": 4,
        "d": 5,
    }
    tied = monetary_scores({"a": 5.0, "b": 5.0, "c": 9.0})
    assert tied["a"] == tied["b"] == 2 and tied["c"] == 4


def _population(**special: Activity) -> dict[str, Activity]:
    people = {f"p{i}": Activity(lifetime_spend=float(i), window_spend=float(i)) for i in range(36)}
    people.update(special)
    return people


def test_a_once_valuable_customer_who_went_quiet_is_at_risk() -> None:
    quiet = Activity(lifetime_spend=5000.0, last_order_at=NOW - 120 * DAY)
    active = Activity(lifetime_spend=5000.0, window_spend=100.0, window_orders=3, last_order_at=NOW - 5 * DAY)
    small = Activity(lifetime_spend=1.0, last_order_at=NOW - 400 * DAY)
    values = assess(_population(quiet=quiet, active=active, small=small), NOW)
    assert values["quiet"].at_risk
    assert not values["active"].at_risk
    assert not values["small"].at_risk  # never valuable: quiet but not "at risk"


def test_a_valuable_customer_with_an_open_or_recent_complaint_is_at_risk() -> None:
    recent = NOW - 5 * DAY
    base: dict[str, Any] = {
        "lifetime_spend": 5000.0,
        "window_spend": 500.0,
        "window_orders": 4,
        "last_order_at": recent,
    }
    values = assess(
        _population(
            open=Activity(**base, open_complaints=1, last_complaint_at=NOW - 300 * DAY),
            recent=Activity(**base, last_complaint_at=NOW - 10 * DAY),
            old=Activity(**base, last_complaint_at=NOW - 200 * DAY),
        ),
        NOW,
    )
    assert values["open"].at_risk and values["recent"].at_risk
    assert not values["old"].at_risk


def test_assess_combines_tier_and_rfm() -> None:
    best = Activity(lifetime_spend=9e6, window_spend=9e6, window_orders=20, last_order_at=NOW - DAY)
    value = assess(_population(best=best), NOW, TierPolicy(window_days=180))["best"]
    assert value.tier is Tier.A and value.rfm_code == "555" and value.rfm_score == 15


def test_a_policy_that_makes_no_sense_is_refused() -> None:
    with pytest.raises(ValueError):
        TierPolicy(window_days=0)
    with pytest.raises(ValueError):
        TierPolicy(a_share=0.6, b_share=0.6)


spends = st.dictionaries(
    st.integers(0, 10_000), st.one_of(st.just(0.0), st.integers(0, 50).map(float)), max_size=300
)


@given(spends)
def test_a_is_at_most_the_top_5_percent_and_a_plus_b_at_most_20(spend: dict[int, float]) -> None:
    result = tiers(spend)
    n = len(spend)
    assert sum(t is Tier.A for t in result.values()) <= int(0.05 * n + 1e-9)
    assert sum(t is not Tier.C for t in result.values()) <= int(0.20 * n + 1e-9)


@given(spends)
def test_more_spend_never_means_a_lower_tier_and_equal_spend_the_same_tier(spend: dict[int, float]) -> None:
    result = tiers(spend)
    for a, sa in spend.items():
        for b, sb in spend.items():
            if sa > sb:
                assert RANK[result[a]] <= RANK[result[b]]
            elif sa == sb:
                assert result[a] is result[b]


@given(spends)
def test_every_rfm_score_is_in_range(spend: dict[int, float]) -> None:
    activity = {
        k: Activity(window_spend=v, lifetime_spend=v, window_orders=int(v) % 15) for k, v in spend.items()
    }
    for value in assess(activity, NOW).values():
        assert 1 <= value.recency <= 5 and 1 <= value.frequency <= 5 and 1 <= value.monetary <= 5
        assert 3 <= value.rfm_score <= 15
