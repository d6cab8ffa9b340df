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
