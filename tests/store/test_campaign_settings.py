"""Campaign settings in the store (0009), on SQLite and PostgreSQL: create, edit, state, cti.toml seeding,
figures from the dial records, and the migration up and down with rows in the table."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text

from cti.core.errors import UsageError
from cti.dialer import settings as s
from cti.store import Store
from cti.store.dial_attempts_repo import AttemptRecord
from cti.store.schema import create_engine, downgrade, upgrade


async def test_a_campaign_is_created_edited_started_and_paused(store: Store) -> None:
    c = s.new("spring", {"queue": "sales", "max_lines": 4, "caller_id": "+12125550000", "budget": 500})
    await store.campaign_settings.create(c)
    with pytest.raises(UsageError, match="exists"):
        await store.campaign_settings.create(c)
    got = await store.campaign_settings.get("spring")
    assert got == c
    assert (got.state, got.call_from_hour, got.call_to_hour, got.currency) == (s.State.DRAFT, 8, 21, "USD")
    edited = s.apply(c, {"script": "Hello 张伟\n<b>not markup</b>", "blended": ["Alice", "Bob"]})
    await store.campaign_settings.save(s.move(edited, "start"))
    got = await store.campaign_settings.get("spring")
    assert got is not None and got.state is s.State.RUNNING
    assert got.script == "Hello 张伟\n<b>not markup</b>" and got.blended == ("Alice", "Bob")
    await store.campaign_settings.save(s.move(got, "pause"))
    assert [x.state for x in await store.campaign_settings.all()] == [s.State.PAUSED]
    assert await store.campaign_settings.budgets() == {"spring": 500.0}
    with pytest.raises(UsageError, match="no campaign"):
        await store.campaign_settings.save(s.CampaignSettings("nope", queue="q"))


async def test_the_lead_rules_see_the_stored_call_window(store: Store) -> None:
    await store.campaign_settings.create(
        s.new("w", {"queue": "sales", "call_from_hour": 0, "call_to_hour": 24})
    )
    list_id = await store.campaigns.lead_list("w", "l1")
    await store.campaigns.add_leads(list_id, [{"e164": "+12125550100", "timezone": "America/New_York"}])
    assert len(await store.campaigns.callable_leads("w", now=1_780_000_000)) == 1


async def test_cti_toml_seeds_and_updates_its_campaigns_and_the_store_keeps_the_rest(store: Store) -> None:
    toml = {"name": "renewals", "mode": "progressive", "queue": "sales", "max_lines": 3, "blended": ["Alice"]}
    [first] = await store.campaign_settings.seed([toml])
    assert first.state is s.State.RUNNING  # a cti.toml campaign dials from the start
    await store.campaign_settings.save(
        dataclasses.replace(
            s.move(first, "pause"), max_lines=9, budget=100.0, currency="EUR", call_to_hour=20
        )
    )
    [again] = await store.campaign_settings.seed([{**toml, "max_lines": 5}])
    assert (again.max_lines, again.state, again.budget, again.currency, again.call_to_hour) == (
        5,  # cti.toml wins for what it names
        s.State.PAUSED,  # paused on the page: paused after a restart
        100.0,
        "EUR",
        20,
    )
    assert await store.campaign_settings.get("renewals") == again


async def test_figures_count_dials_contacts_and_leads(store: Store) -> None:
    await store.campaign_settings.create(s.new("f", {"queue": "sales"}))
    list_id = await store.campaigns.lead_list("f", "l1")
    await store.campaigns.add_leads(list_id, [{"e164": "+12125550101"}, {"e164": "+12125550102"}])
    leads = await store.campaigns.lead_records(list_id)
    await store.campaigns.record_lead_attempt(leads[0]["id"], "answered", at=1000.0)
    for outcome, live, abandoned, amd in (
        ("answered", True, False, "HUMAN"),
        ("abandoned", True, True, "HUMAN"),
        ("machine", False, False, "MACHINE"),
        ("busy", False, False, ""),
    ):
        await store.dial_attempts.record_attempt(
            AttemptRecord("f", "+12125550101", 1000.0, outcome, None, None, amd, "", None, live, abandoned)
        )
    got = await store.campaign_settings.figures("f")
    assert (got.dials, got.contacts, got.abandoned, got.machines) == (4, 2, 1, 1)
    assert got.leads == {"done": 1, "new": 1}
    assert (await store.campaign_settings.figures("f", since=2000.0)).dials == 0


async def test_0009_gives_existing_campaigns_defaults_and_goes_back_down_keeping_them(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0008")
            await conn.execute(
                text(
                    "INSERT INTO campaigns (name, queue, active, max_attempts, retry_seconds,"
                    " call_from_hour, call_to_hour) VALUES ('old', 'sales', true, 3, 3600, 9, 21)"
                )
            )
            cid = (await conn.execute(text("SELECT id FROM campaigns"))).scalar_one()
            await conn.execute(
                text("INSERT INTO lead_lists (campaign_id, name, active) VALUES (:c, 'l1', true)"), {"c": cid}
            )
            lid = (await conn.execute(text("SELECT id FROM lead_lists"))).scalar_one()
            await conn.execute(
                text(
                    "INSERT INTO leads (list_id, name, raw, e164, timezone, status, attempts)"
                    " VALUES (:l, 'A', '', '+12125550100', '', 'new', 0)"
                ),
                {"l": lid},
            )
            await conn.run_sync(upgrade)  # to the head: the ORM below maps every later column too
        store = Store(engine)
        got = await store.campaign_settings.get("old")
        assert got == s.CampaignSettings("old", queue="sales", call_from_hour=9)  # a draft, the defaults
        await store.campaign_settings.save(s.move(s.apply(got, {"budget": 12.5}), "start"))
        assert (await store.campaign_settings.figures("old")).leads == {"new": 1}  # lists and leads kept
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "0008")
            rows = (await conn.execute(text("SELECT name, queue, call_from_hour FROM campaigns"))).all()
            assert [tuple(r) for r in rows] == [("old", "sales", 9)]
            columns = (await conn.execute(text("SELECT * FROM campaigns"))).keys()
            assert "state" not in columns and "budget" not in columns
            assert (await conn.execute(text("SELECT count(*) FROM leads"))).scalar_one() == 1
            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()


def test_settings_are_checked_field_by_field() -> None:
    base = s.new("x", {"queue": "sales"})
    for changes, field in (
        ({"max_lines": 0}, "max_lines"),
        ({"max_lines": True}, "max_lines"),
        ({"ring_timeout": 10}, "ring_timeout"),
        ({"mode": "robot"}, "mode"),
        ({"channel": "PJSIP/trunk"}, "channel"),
        ({"channel": "PJSIP/{number}@{host}"}, "channel"),
        ({"call_from_hour": 21}, "call_from_hour"),
        ({"regime": "ofcom", "abandon_target": 0.04}, "abandon_target"),
        ({"currency": "dollars"}, "currency"),
        ({"queue": ""}, "queue"),
        ({"blended": ["<script>"]}, "blended"),
        ({"colour": "red"}, "colour"),
        ({"script": "x" * 5000}, "script"),
    ):
        with pytest.raises(s.SettingError) as e:
            s.apply(base, changes)
        assert e.value.field == field, changes
    with pytest.raises(s.SettingError, match="name"):
        s.new("bad name!", {})
    with pytest.raises(s.SettingError, match="ended campaign cannot start"):
        s.move(s.move(base, "end"), "start")
    assert s.apply(base, {"mode": "agentless", "queue": ""}).queue == ""
    assert s.apply(base, {"regime": "crtc"}).target == 0.05


async def test_cti_toml_seeds_recycling_and_dispositions_and_a_toml_without_them_keeps_the_stores(
    store: Store,
) -> None:
    toml = {
        "name": "recyc",
        "queue": "sales",
        "recycling": {"busy": {"delay": 60.0, "max": 2}},
        "disposition": [
            {"code": "sale", "final": True, "sale": True, "callback": False},
            {"code": "later", "final": False, "sale": False, "callback": True},
        ],
    }
    [first] = await store.campaign_settings.seed([toml])
    got = await store.campaign_settings.get("recyc")
    assert got == first and dict(first.recycling)["busy"].max_attempts == 2
    assert [d.code for d in await store.campaigns.dispositions("recyc")] == ["later", "sale"]
    assert first.to_json()["recycling"] == {"busy": {"delay": 60.0, "max": 2}}
    # the page edits them (checked like every setting)
    edited = s.apply(
        first, {"recycling": {"machine": {"delay": 7200, "max": 1}}, "dispositions": [{"code": "dnc"}]}
    )
    await store.campaign_settings.save(edited)
    bare = {"name": "recyc", "queue": "sales", "recycling": {}, "disposition": []}
    [again] = await store.campaign_settings.seed([bare])  # cti.toml names none: the store's stay
    assert dict(again.recycling) == dict(edited.recycling) and [d.code for d in again.dispositions] == ["dnc"]
    assert [x.code for x in (await store.campaign_settings.all())[0].dispositions] == ["dnc"]
    [named] = await store.campaign_settings.seed([toml])  # cti.toml names them: cti.toml wins
    assert set(dict(named.recycling)) == {"busy"} and len(named.dispositions) == 2
    assert await store.campaign_settings.get("recyc") == named


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"recycling": {"bsy": {"delay": 1, "max": 1}}}, "recycling", "bsy: not an outcome"),
        ({"recycling": {"busy": {"delay": -5, "max": 1}}}, "recycling", "busy: delay must be >= 0"),
        ({"recycling": {"busy": {"delay": 5, "max": 0}}}, "recycling", "busy: max must be"),
        ({"recycling": [1]}, "recycling", "expected a table"),
        ({"dispositions": [{"code": "<b>"}]}, "dispositions", "[0].code: 1 to 64"),
        ({"dispositions": [{"code": "a", "sale": "yes"}]}, "dispositions", "[0].sale: must be true or false"),
        ({"dispositions": {"code": "a"}}, "dispositions", "expected a list"),
    ],
)
def test_bad_recycling_or_dispositions_on_the_page_name_the_field_and_the_reason(
    changes: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(s.SettingError) as e:
        s.apply(s.CampaignSettings("c", queue="q"), changes)
    assert (e.value.field, reason in e.value.reason) == (field, True)
