"""The campaign actions over the consoles' websocket: roles, bad input (the field and the reason), and the
daemon's dialer noticing a start and a pause from the store without a restart."""

from __future__ import annotations

from pathlib import Path

from cti.config import DialerConfig
from cti.delivery.dialer import DialerService, StoreLeads
from cti.dialer import settings as s
from tests.delivery.test_dialer_blend import NoLeads, Sink
from tests.delivery.test_service import Harness
from tests.e2e.running import running_daemon, seed_accounts
from tests.e2e.test_callbacks import command
from tests.e2e.test_cti_routing import login


async def test_agents_are_refused_and_bad_input_names_the_field(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url) as daemon:
        assert daemon.server is not None
        port = daemon.server.port
        agent = await login(port, "alice")
        reply = await command(agent, "a1", type="campaign", op="list")
        assert (reply["type"], reply["code"]) == ("error", "forbidden")
        reply = await command(agent, "a2", type="campaign", op="create", name="x", settings={"queue": "q"})
        assert (reply["type"], reply["code"]) == ("error", "forbidden")
        sup = await login(port, "super")
        for ref, fields, field in (
            (
                "b1",
                {"op": "create", "name": "x", "settings": {"queue": "q", "ring_timeout": 5}},
                "ring_timeout",
            ),
            ("b2", {"op": "create", "name": "bad name!", "settings": {"queue": "q"}}, "name"),
            ("b3", {"op": "create", "name": "x", "settings": {"queue": "q", "budget": -1}}, "budget"),
            ("b4", {"op": "start", "name": "nope"}, "name"),
            ("b5", {"op": "create", "name": "x", "settings": {"queue": "q", "colour": 1}}, "colour"),
        ):
            reply = await command(sup, ref, type="campaign", **fields)
            assert reply["type"] == "error" and reply["field"] == field, reply
        reply = await command(sup, "c0", type="campaign", op="launch", name="x")
        assert (reply["type"], reply["code"]) == ("error", "bad_field")
        reply = await command(sup, "c1", type="campaign", op="create", name="x", settings={"queue": "q"})
        assert reply["type"] == "result" and reply["campaign"]["state"] == "draft"
        reply = await command(sup, "c2", type="campaign", op="pause", name="x")
        assert (reply["code"], reply["field"]) == ("bad_request", "state")  # a draft is not running
        reply = await command(sup, "c3", type="campaign", op="upload", name="x", list="l", csv="")
        assert reply["type"] == "error"
        reply = await command(sup, "c4", type="campaign", op="start", name="x")
        assert reply["campaign"]["state"] == "running"
        await agent.close()
        await sup.close()


class Rows:
    """store.campaign_settings as the dialer reads it."""

    def __init__(self) -> None:
        self.rows: list[s.CampaignSettings] = []
        self.fail = False

    async def all(self) -> list[s.CampaignSettings]:
        if self.fail:
            raise ConnectionError("store down")
        return list(self.rows)


async def test_the_dialer_follows_the_stores_start_pause_and_settings() -> None:
    h = Harness()
    rows = Rows()
    leads = StoreLeads(NoLeads(), {})  # type: ignore[arg-type]
    d = DialerService(h.service, DialerConfig(enabled=True), leads, Sink(), d_pacer := _Pacer())
    d.store = rows
    spring = s.new("spring", {"queue": "sales", "max_lines": 3, "script": "Hi", "blended": ["Alice"]})
    rows.rows = [spring, s.new("other", {"queue": "sales"})]  # drafts: not dialled
    await d.reload()
    assert d.campaigns == {}
    rows.rows[0] = s.move(spring, "start")
    await d.reload()
    c = d.campaigns["spring"]
    assert (c.max_lines, c.queue, c.blended, d.paused, leads.scripts) == (
        3,
        "sales",
        ["Alice"],
        set(),
        {"spring": "Hi"},
    )
    rows.rows[0] = s.move(s.apply(rows.rows[0], {"max_lines": 7}), "pause")
    await d.reload()
    assert d.campaigns["spring"] is c and c.max_lines == 7 and d.paused == {"spring"}  # the same object
    assert d.live("spring")["dialling"] is False and d.live("spring")["max_lines"] == 7
    rows.fail = True
    await d.reload()  # the store is down: the last campaigns are kept
    assert d.paused == {"spring"} and d.reloads == 3
    rows.fail = False
    rows.rows[0] = s.move(rows.rows[0], "start")
    d.reload_soon()
    assert d._reload_at == 0.0 and d._wake.is_set()
    await d.reload()
    assert d.paused == set() and d.live("spring")["dialling"] is True
    assert d_pacer.asked == []


class _Pacer:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def lines(self, campaign: str, idle_agents: int, soon_free: int, ringing: int, free_lines: int) -> int:
        self.asked.append(campaign)
        return 0
