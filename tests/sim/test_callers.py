"""Simulated callers arrive by the hourly profile, choose by the IVR weights and carry customer ids."""

from __future__ import annotations

import random
from dataclasses import replace

from cti.sim.callers import CallerGenerator
from cti.sim.scenario import Customer, Dist, TrafficSpec, transcript_pbx
from tests.sim.model_harness import T0, Harness


def traffic(**kw: object) -> TrafficSpec:
    base = TrafficSpec(
        enabled=True,
        calls_per_hour=(0.0,) * 24,
        patience=Dist("constant", 30),
        ivr=(("sales", 3.0), ("support", 1.0)),
        customers=(Customer("13800138000", "张伟"), Customer("4155550100", "ACME")),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_arrivals_follow_the_hourly_profile() -> None:
    hours = [0.0] * 24
    hour_now = int(T0 // 3600 % 24)
    hours[hour_now] = 600.0  # 10 a minute during this hour only
    h = Harness(transcript_pbx())
    gen = CallerGenerator(h.pbx, traffic(calls_per_hour=tuple(hours)), random.Random(3))
    gen.start()
    left = 3600 - T0 % 3600
    h.run(left)
    in_hour = gen.placed
    expected = 600 * left / 3600
    assert 0.85 * expected < in_hour < 1.15 * expected
    h.run(3600)
    assert gen.placed == in_hour  # the next hour's rate is zero


def test_callers_choose_queues_by_ivr_weights_and_use_customer_ids() -> None:
    h = Harness(transcript_pbx())
    gen = CallerGenerator(h.pbx, traffic(), random.Random(1))
    draws = [gen.draw() for _ in range(2000)]
    share = sum(a.exten == "sales" for a in draws) / len(draws)
    assert 0.7 < share < 0.8
    assert {a.customer.name for a in draws} == {"张伟", "ACME"}


def test_hold_fraction_sends_callers_to_cti_routing() -> None:
    h = Harness(transcript_pbx())
    gen = CallerGenerator(h.pbx, traffic(hold_fraction=1.0), random.Random(1))
    assert {gen.draw().exten for _ in range(50)} == {"hold"}


def test_generated_callers_are_originated_like_the_real_test_client() -> None:
    h = Harness(transcript_pbx())
    gen = CallerGenerator(h.pbx, traffic(calls_per_hour=(3600.0,) * 24), random.Random(2))
    gen.start()
    h.run(5)
    first = h.named("Newchannel")[0]
    assert first["Channel"].startswith(("Local/13800138000@callers-", "Local/4155550100@callers-"))
    assert h.named("OriginateResponse")[0]["Context"] == "inbound"
