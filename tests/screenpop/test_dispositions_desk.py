"""The inbound disposition list at the desk: a disposition is checked against the store's codes (for the
call's queue, with the callback time a code requires), supervisors edit the list, every console gets it
(snapshot and push). A real store, SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cti.core.dispositions import Code
from cti.core.events import AgentState
from cti.screenpop import protocol as p
from cti.screenpop.actions import Contexts, Desk, DeskError
from cti.screenpop.dispositions import DispositionList
from cti.screenpop.hub import Client, Hub
from cti.screenpop.live import LiveBoard
from cti.store import Store
from tests.bus.events import agent_state, inbound_call
from tests.screenpop.fakes import FakeChannels, FakeLink, FakeStore
from tests.screenpop.test_actions import ALICE, SUPER

SEED = [
    Code("resolved", outcome="resolution", position=0),
    Code("upsell", outcome="sale", queues=("sales",), position=1),
    Code("support fix", outcome="resolution", queues=("support",), position=2),
    Code("call back", callback=True, position=3),
]


@pytest.fixture
async def desk(db_url: str) -> AsyncIterator[tuple[Desk, FakeStore]]:
    store = await Store.open(db_url)
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    hub.on_events([agent_state("Alice", AgentState.AVAILABLE)])
    saved = FakeStore.demo()
    d = Desk(hub, {"pbx1": FakeLink()}.get, FakeChannels(), saved, Contexts())
    d.dispositions = DispositionList(store.dispositions, hub)
    await d.dispositions.load(SEED)
    hub.on_events(inbound_call("1.1", agent="Alice", queue="sales")[:4])
    try:
        yield d, saved
    finally:
        await store.close()


def messages(client: Client, kind: str) -> list[dict[str, Any]]:
    return [m for m in map(json.loads, client.take_waiting()) if m["type"] == kind]


async def test_a_disposition_is_checked_against_the_list_for_the_calls_queue(
    desk: tuple[Desk, FakeStore],
) -> None:
    d, saved = desk
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Disposition(None, "1.1", "sale", ""))  # not in the store's list
    assert (e.value.code, e.value.field) == ("unknown_disposition", "disposition")
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Disposition(None, "1.1", "support fix", ""))  # a support code on a sales call
    assert e.value.code == "disposition_not_offered"
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Disposition(None, "1.1", "call back", "ring me"))
    assert (e.value.code, e.value.field) == ("callback_required", "callback_at")
    assert saved.dispositions == []  # nothing refused was saved
    await d.run(ALICE, p.Disposition(None, "1.1", "upsell", ""))
    await d.run(ALICE, p.Disposition(None, "1.1", "call back", "", 1.9e9))
    assert [x[2] for x in saved.dispositions] == ["upsell", "call back"]


async def test_supervisors_edit_the_list_and_every_console_gets_it(desk: tuple[Desk, FakeStore]) -> None:
    d, _ = desk
    agent = Client(ALICE, 100)
    d.hub.attach(agent)
    assert [c["code"] for c in d.hub.snapshot(ALICE)["dispositions"]] == [c.code for c in SEED]
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Dispositions(None, "add", "mine", {"code": "mine"}))
    assert e.value.code == "forbidden"
    listed = await d.run(ALICE, p.Dispositions(None, "list", "", {}))
    assert len(listed["dispositions"]) == 4
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Dispositions(None, "add", "x", {"code": "x", "outcome": "win"}))
    assert (e.value.code, e.value.field) == ("bad_disposition", "outcome")
    result = await d.run(SUPER, p.Dispositions(None, "add", "wrong number", {"code": "wrong number"}))
    assert result["dispositions"][-1] == Code("wrong number", position=4).to_json()  # last, by default
    pushed = messages(agent, "dispositions")
    assert [c["code"] for c in pushed[-1]["dispositions"]] == [*(c.code for c in SEED), "wrong number"]
    await d.run(SUPER, p.Dispositions(None, "remove", "upsell", {}))
    assert "upsell" not in [c["code"] for c in messages(agent, "dispositions")[-1]["dispositions"]]
    with pytest.raises(DeskError) as e:  # a code removed is refused from now on
        await d.run(ALICE, p.Disposition(None, "1.1", "upsell", ""))
    assert e.value.code == "unknown_disposition"
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Dispositions(None, "remove", "upsell", {}))
    assert e.value.code == "unknown_disposition"
    await d.run(SUPER, p.Dispositions(None, "add", "resolved", {"code": "resolved", "active": False}))
    assert "resolved" not in [c["code"] for c in d.hub.snapshot(ALICE)["dispositions"]]


async def test_a_campaign_call_keeps_its_campaigns_codes(desk: tuple[Desk, FakeStore]) -> None:
    d, saved = desk
    d.hub.lead_of[next(iter(d.hub.calls))] = {"dispositions": '[{"code": "sale"}]'}
    await d.run(ALICE, p.Disposition(None, "1.1", "sale", ""))  # d.leads is None: nothing to dispose
    assert saved.dispositions[-1][2] == "sale"


async def test_a_campaign_call_without_codes_is_not_held_to_the_inbound_list(
    desk: tuple[Desk, FakeStore],
) -> None:
    d, saved = desk
    d.hub.lead_of[next(iter(d.hub.calls))] = {"leadid": "7", "dispositions": "[]"}
    await d.run(ALICE, p.Disposition(None, "1.1", "callback", ""))  # no inbound code, and no campaign list
    assert saved.dispositions[-1][2] == "callback"


def test_the_dispositions_command_is_parsed() -> None:
    assert p.parse('{"type": "dispositions", "op": "list"}') == p.Dispositions(None, "list", "", {})
    cmd = p.parse(
        '{"type": "dispositions", "op": "add", "code": "x", "label": "X", "queues": ["a"], "evil": 1,'
        ' "ref": 3}'
    )
    assert cmd == p.Dispositions(3, "add", "x", {"code": "x", "label": "X", "queues": ["a"]})
    for bad in ('{"type": "dispositions", "op": "drop"}', '{"type": "dispositions", "op": "remove"}'):
        with pytest.raises(p.BadMessage):
            p.parse(bad)


async def test_a_code_added_by_another_instance_is_taken_and_pushed(desk: tuple[Desk, FakeStore]) -> None:
    d, saved = desk
    assert d.dispositions is not None
    rows = d.dispositions.rows
    other = DispositionList(rows, Hub(board=LiveBoard(lambda q: 20.0)))  # another instance, same store
    await other.load()
    await other.add({"code": "escalated", "outcome": "none"})
    agent = Client(ALICE, 100)
    d.hub.attach(agent)
    await d.run(ALICE, p.Disposition(None, "1.1", "escalated", ""))  # unknown here: read from the store
    assert saved.dispositions[-1][2] == "escalated"
    assert "escalated" in [c["code"] for c in messages(agent, "dispositions")[-1]["dispositions"]]
    await other.remove("escalated")
    assert await d.dispositions.refresh() is True  # the periodic refresh: pushed when changed
    assert await d.dispositions.refresh() is False
    assert "escalated" not in [c["code"] for c in messages(agent, "dispositions")[-1]["dispositions"]]
