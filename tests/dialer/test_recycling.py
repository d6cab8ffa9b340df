from hypothesis import given, settings
from hypothesis import strategies as st

from cti.dialer.eligibility import Recycle
from cti.dialer.hopper import HopperPolicy
from cti.dialer.recycling import DEFAULT_RULES, next_step, parse_rules

H72 = 72 * 3600.0
OUTCOMES = ("busy", "no_answer", "machine", "abandoned", "congestion")
RULES = {"busy": Recycle(60.0, 4), "no_answer": Recycle(300.0, 3), "machine": Recycle(900.0, 2)}
# an abandon rule that asks for less than 72 h: the 72 h no-redial must hold all the same
RULES["abandoned"] = Recycle(30.0, 3)


@settings(max_examples=200)  # the repo's profile (tests/conftest.py): derandomized in CI
@given(
    outcomes=st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=12),
    waits=st.lists(st.floats(min_value=0, max_value=4 * H72), min_size=12, max_size=12),
)
def test_a_lead_is_never_dialled_early_too_often_or_within_72h_of_an_abandon(
    outcomes: list[str], waits: list[float]
) -> None:
    at, attempts, abandon, next_at = 0.0, 0, None, None
    dials: list[tuple[float, str]] = []
    for outcome, wait in zip(outcomes, waits, strict=False):
        at = max(at + wait, next_at or 0.0)  # the dialer only takes a lead that is due
        attempts += 1
        same = 1 + sum(1 for _, o in dials if o == outcome)
        if dials:
            prev_at, prev = dials[-1]
            assert at >= prev_at + RULES.get(prev, Recycle(120.0, 5)).delay
        assert abandon is None or at >= abandon + H72
        dials.append((at, outcome))
        abandon = at if outcome == "abandoned" else abandon
        step = next_step(
            attempts=attempts, outcome=outcome, at=at, campaign_max=5, retry_seconds=120.0,
            rules={**DEFAULT_RULES, **RULES}, last_abandon_at=abandon, outcome_attempts=same,
        )  # fmt: skip
        rule = {**DEFAULT_RULES, **RULES}.get(outcome, Recycle(120.0, 5))
        # done exactly when this outcome reached its own maximum or the lead the campaign's
        assert (step.status == "done") == (same >= rule.max_attempts or attempts >= 5)
        if step.status == "done":
            assert step.final_outcome == outcome
            break
        assert step.next_attempt_at is not None
        next_at = step.next_attempt_at
    assert len(dials) <= 5
    for o, r in {**DEFAULT_RULES, **RULES}.items():  # never more results of an outcome than its max
        assert sum(1 for _, x in dials if x == o) <= r.max_attempts


def test_the_maximum_counts_the_attempts_with_that_outcome_under_the_overall_cap() -> None:
    rules = {**DEFAULT_RULES, "busy": Recycle(60.0, 2)}

    def busy(attempts: int, same: int) -> str:
        return next_step(
            attempts=attempts, outcome="busy", at=0.0, campaign_max=5, retry_seconds=1.0, rules=rules,
            outcome_attempts=same,
        ).status  # fmt: skip

    # busy, no_answer, no_answer, busy: the fourth attempt is the second busy result, which ends the lead
    assert busy(3, 1) == "retry" and busy(4, 2) == "done"
    assert busy(2, 1) == "retry"  # two attempts, one busy: the busy maximum is not reached
    assert busy(5, 1) == "done"  # the campaign's max_attempts still caps every lead


def test_answered_ends_the_lead_and_past_its_maximum_a_lead_is_done_with_its_outcome() -> None:
    assert next_step(attempts=1, outcome="answered", at=0, campaign_max=3, retry_seconds=1).status == "done"
    step = next_step(attempts=3, outcome="machine", at=0, campaign_max=9, retry_seconds=1)
    assert (step.status, step.final_outcome) == ("done", "machine")
    busy = next_step(attempts=1, outcome="busy", at=100.0, campaign_max=9, retry_seconds=1)
    assert (busy.status, busy.next_attempt_at) == ("retry", 700.0)
    dropped = next_step(attempts=1, outcome="dropped", at=0.0, campaign_max=9, retry_seconds=1)
    assert dropped.next_attempt_at == H72


def test_recycling_rules_parse_over_the_defaults_and_refuse_nonsense_clearly() -> None:
    rules = parse_rules('{"busy": {"delay": 30, "max": 2}, "no-answer": {"delay": 10, "max": 1}}')
    assert rules["busy"] == Recycle(30.0, 2) and rules["no_answer"] == Recycle(10.0, 1)
    assert rules["machine"] == DEFAULT_RULES["machine"]
    for bad in (
        "[",
        "[1]",
        '{"busy": 3}',
        '{"busy": {"delay": -1, "max": 2}}',
        '{"x": {"delay": 1, "max": 0}}',
    ):
        try:
            parse_rules(bad)
        except ValueError as e:
            assert "recycling rule" in str(e)
        else:
            raise AssertionError(bad)


def test_the_hopper_fetches_minutes_ahead_of_the_dial_rate_and_alarms_when_running_dry() -> None:
    policy = HopperPolicy(ahead_minutes=5, minimum=10, maximum=200, alarm_minutes=30)
    assert policy.target(0) == 10 and policy.target(12) == 60 and policy.target(1000) == 200
    assert policy.to_fetch(in_hopper=40, dial_rate=12) == 0  # at least half of 60
    assert policy.to_fetch(in_hopper=20, dial_rate=12) == 40
    assert policy.low(callable_left=359, dial_rate=12) and not policy.low(callable_left=360, dial_rate=12)
    assert policy.low(0, 0) and not policy.low(5, 0)
    try:
        HopperPolicy(minimum=0)
    except ValueError as e:
        assert "hopper" in str(e)
    else:
        raise AssertionError("minimum 0 accepted")
