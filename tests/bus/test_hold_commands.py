"""CTI hold, resume, park and pick-up asked of the instance connected to the call's Asterisk: the owner
builds each action from its own view of the call (docs/design/hold-and-park.md)."""

from __future__ import annotations

import pytest

from cti.bus.commands import RemoteError
from tests.asterisk.fakeami import FakeAmi
from tests.bus.test_commands import ALICE, CALLERS, CALLS, actions_named, pbx, serving

__all__ = ["pbx"]  # the fixture
pytestmark = pytest.mark.redis


async def test_hold_unhold_park_and_pickup_are_built_by_the_owner(redis_url: str, pbx: FakeAmi) -> None:
    for name in ("bridge", "park"):
        pbx.handlers[name] = lambda c, a: [{"Response": "Success", "Message": "Done"}]
    mine, caller = CALLS["1.3"][ALICE], CALLERS["1.3"]
    async with serving(redis_url, pbx) as (_, remote):
        link = remote.link("pbx1")
        for op in ("hold", "unhold", "park"):
            await link.request(op, {"linkedid": "1.3", "agent": ALICE})
        await link.request("pickup", {"linkedid": "1.3", "agent": ALICE, "space": "701"})
        with pytest.raises(RemoteError) as e:  # Bob's call
            await link.request("hold", {"linkedid": "2.1", "agent": ALICE})
        assert e.value.code == "not_your_call"
        with pytest.raises(RemoteError) as e:  # a space smuggling a second header
            await link.request("pickup", {"linkedid": "1.3", "agent": ALICE, "space": "701\r\nAction: X"})
        assert e.value.code == "bad_field"
    (redirect,) = actions_named(pbx, "Redirect")
    assert (redirect["Channel"], redirect["Context"], redirect["ExtraChannel"], redirect["ExtraContext"]) == (
        caller,
        "cti-hold",
        mine,
        "cti-hold-agent",
    )
    (bridge,) = actions_named(pbx, "Bridge")
    assert (bridge["Channel1"], bridge["Channel2"]) == (mine, caller)
    (park,) = actions_named(pbx, "Park")
    assert (park["Channel"], park["TimeoutChannel"], park["Parkinglot"], park["Timeout"]) == (
        caller,
        mine,
        "default",
        "120000",
    )
    pickup = actions_named(pbx, "Originate")[-1]
    assert (pickup["Channel"], pickup["Context"], pickup["Exten"]) == (
        "Local/1001@agents/n",
        "parkedcalls",
        "701",
    )
