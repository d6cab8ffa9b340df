import logging
from typing import Any

import pytest

from cti.delivery.hopper import Hopper
from cti.dialer.hopper import HopperPolicy
from cti.store import Store

T0 = 1_780_000_000.0


async def test_the_hopper_fetches_ahead_and_alarms_when_the_campaign_runs_low(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await store.campaigns.upsert_campaign("c", call_from_hour=0, call_to_hour=24)
    list_id = await store.campaigns.lead_list("c", "a")
    leads = [{"e164": f"+1212555{n:04d}", "timezone": "America/New_York"} for n in range(30)]
    await store.campaigns.add_leads(list_id, leads)
    alarms: list[dict[str, Any]] = []
    policy = HopperPolicy(ahead_minutes=1, minimum=4, maximum=50, alarm_minutes=10)
    hopper = Hopper(store.campaigns, "c", policy, on_alarm=alarms.append)
    with caplog.at_level(logging.WARNING, logger="cti.hopper"):
        assert await hopper.refill(dial_rate=2.0, now=T0) == 4  # 30 left = 15 minutes at 2/min
        assert not hopper.low and alarms == []
        assert await hopper.refill(dial_rate=2.0, now=T0) == 0  # still full
        assert await hopper.refill(dial_rate=5.0, now=T0) == 0  # 4 of 5 held; 6 minutes left: low
    assert hopper.low and [a["level"] for a in alarms] == ["breach"]
    assert alarms[0]["metric"] == "hopper_minutes_left" and alarms[0]["value"] == 6.0
    assert "hopper low: campaign c has 30 callable leads left" in caplog.text
    taken = hopper.take(5)
    assert len({lead.id for lead in taken}) == 4 and hopper.take(1) == []
    names = {m.name: m.samples[0].value for m in hopper.collect()}
    assert names["cti_hopper_low"] == 1 and names["cti_hopper_low_alarms"] == 1
    assert await hopper.refill(dial_rate=1.0, now=T0) == 4
    assert not hopper.low and [a["level"] for a in alarms] == ["breach", "ok"]


# 2026-06-15 20:59:30 in New York (EDT, UTC-4): 30 s before a 09-21 window closes
NY_2059 = 1_781_571_570.0


async def test_a_lead_fetched_ahead_is_never_dialled_after_its_window_closes(store: Store) -> None:
    await store.campaigns.upsert_campaign("w", call_from_hour=9, call_to_hour=21)
    list_id = await store.campaigns.lead_list("w", "a")
    await store.campaigns.add_leads(list_id, [{"e164": f"+1212555{n:04d}"} for n in range(6)])
    hopper = Hopper(store.campaigns, "w", HopperPolicy(ahead_minutes=5, minimum=6, maximum=50))
    assert await hopper.refill(dial_rate=1.0, now=NY_2059) == 6  # fetched at 20:59:30, in the window
    assert [lead.id for lead in hopper.take(1, NY_2059)] != []
    assert hopper.take(5, NY_2059 + 60) == []  # 21:00:30: the window closed, none is handed out
    assert await hopper.refill(dial_rate=1.0, now=NY_2059 + 60) == 0  # and none is fetched


async def test_a_lead_held_past_max_age_is_read_again_so_a_new_do_not_call_is_honoured(store: Store) -> None:
    await store.campaigns.upsert_campaign("d", call_from_hour=0, call_to_hour=24)
    list_id = await store.campaigns.lead_list("d", "a")
    await store.campaigns.add_leads(list_id, [{"e164": f"+1212555{n:04d}"} for n in range(4)])
    policy = HopperPolicy(ahead_minutes=5, minimum=4, maximum=50, max_age=60)
    hopper = Hopper(store.campaigns, "d", policy)
    assert await hopper.refill(dial_rate=1.0, now=T0) == 4
    await store.dnc.add_numbers(["+12125550000"], source="internal", at=T0 + 10)
    assert len(hopper.take(4, T0 + 30)) == 4  # within max_age: held as fetched
    assert await hopper.refill(dial_rate=1.0, now=T0 + 30) == 3  # the DNC number is not fetched again
    assert "+12125550000" not in {lead.number for lead in hopper.take(4, T0 + 100)}  # past max_age: re-read
    assert await hopper.refill(dial_rate=1.0, now=T0 + 100) == 3
    assert {lead.number for lead in hopper.take(4, T0 + 101)} == {f"+1212555{n:04d}" for n in (1, 2, 3)}


async def test_the_dialers_leads_come_through_the_hopper_and_its_alarm_reaches_the_supervisors(
    store: Store,
) -> None:
    from cti.delivery.dialer import StoreLeads

    await store.campaigns.upsert_campaign("s", call_from_hour=0, call_to_hour=24)
    list_id = await store.campaigns.lead_list("s", "a")
    await store.campaigns.add_leads(list_id, [{"e164": f"+1212555{n:04d}"} for n in range(8)])
    alarms: list[dict[str, Any]] = []
    policy = HopperPolicy(ahead_minutes=1, minimum=3, maximum=50, alarm_minutes=10)
    leads = StoreLeads(store.campaigns, {"s": "hello"}, policy, on_alarm=alarms.append)
    first = await leads.next_leads("s", 2, T0)
    assert len(first) == 2 and all(lead.script == "hello" for lead in first)
    assert len(leads.hoppers["s"].held) == 1  # fetched ahead: the minimum of 3, 2 handed out
    second = await leads.next_leads("s", 2, T0 + 1)  # the two being dialled are never handed out again
    assert not {lead.lead_id for lead in first} & {lead.lead_id for lead in second}
    assert leads.dial_rate("s", T0 + 1) == 4 * 60 / StoreLeads.RATE_WINDOW
    # 8 leads at 0.4 a minute last 20 minutes: no alarm; at 2 a minute (a busier campaign) 4 minutes: alarm
    assert alarms == []
    for t in range(16):  # a busier minute: 16 more leads handed out (3 remain callable)
        await leads.next_leads("s", 0, T0 + 2)
        leads._served["s"].append(T0 + 2 + t / 100)
    await leads.next_leads("s", 1, T0 + 3)
    assert [a["level"] for a in alarms] == ["breach"] and alarms[0]["scope"] == "campaign"
    names = {m.name: m.samples[0].value for m in leads.collect()}
    assert names["cti_hopper_low"] == 1
