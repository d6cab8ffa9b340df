from cti.store import NewCustomer, Store
from cti.store.campaigns_repo import CampaignDispositionRow
from cti.store.csvio import import_leads
from cti.store.dial_attempts_repo import AttemptRecord

T0 = 1_780_000_000.0
H72 = 72 * 3600.0


async def _campaign(store: Store, **kw: object) -> int:
    await store.campaigns.upsert_campaign("c", queue="sales", call_from_hour=0, call_to_hour=24, **kw)  # type: ignore[arg-type]
    return await store.campaigns.lead_list("c", "a")


async def test_recycling_per_outcome_and_the_72h_rule_after_an_abandon(store: Store) -> None:
    rules = '{"busy": {"delay": 60, "max": 3}}'
    list_id = await _campaign(store, recycling=rules, max_attempts=9)
    await store.campaigns.add_leads(list_id, [{"e164": "+12125550101", "timezone": "America/New_York"}])
    (lead,) = await store.campaigns.callable_leads("c", now=T0)

    async def dial(outcome: str, at: float) -> str:  # as the daemon: the lead recycled, the dial recorded
        status = await store.campaigns.record_lead_attempt(lead.id, outcome, at=at)
        await store.dial_attempts.record_attempt(
            AttemptRecord("c", lead.number, at, outcome, lead_id=lead.id)
        )
        return status

    assert await dial("abandoned", T0) == "retry"
    assert await store.campaigns.callable_leads("c", now=T0 + H72 - 1) == []
    assert len(await store.campaigns.callable_leads("c", now=T0 + H72)) == 1
    assert await dial("busy", T0 + H72) == "retry"
    assert await store.campaigns.callable_leads("c", now=T0 + H72 + 59) == []
    assert len(await store.campaigns.callable_leads("c", now=T0 + H72 + 60)) == 1
    # busy max 3 counts the busy results (two so far), not the lead's three attempts
    assert await dial("busy", T0 + H72 + 60) == "retry"
    assert await dial("busy", T0 + H72 + 120) == "done"
    (row,) = await store.campaigns.lead_records(list_id)
    assert (row["status"], row["last_outcome"], row["attempts"]) == ("done", "busy", 4)
    assert row["last_abandon_at"] == T0


async def test_consent_per_channel_and_a_campaign_that_requires_it(store: Store) -> None:
    refused = await store.customers.add_customer(NewCustomer(name="no", phones=["+12125550201"]))
    list_id = await _campaign(store)
    await store.campaigns.add_leads(
        list_id,
        [
            {"e164": "+12125550201", "timezone": "America/New_York"},
            {"e164": "+12125550202", "timezone": "America/New_York", "call_consent": False},
            {"e164": "+12125550203", "timezone": "America/New_York", "call_consent": True},
            {"e164": "+12125550204", "timezone": "America/New_York"},
        ],
    )
    await store.dnc.set_consent(refused, call=False)
    found = {lead.number for lead in await store.campaigns.callable_leads("c", now=T0)}
    assert found == {"+12125550203", "+12125550204"}
    await _campaign(store, require_call_consent=True)
    assert [x.number for x in await store.campaigns.callable_leads("c", now=T0)] == ["+12125550203"]


async def test_a_callback_disposition_schedules_a_callback_to_the_same_agent(store: Store) -> None:
    list_id = await _campaign(store)
    await store.campaigns.set_dispositions(
        "c",
        [
            CampaignDispositionRow("sale", final=True, sale=True),
            CampaignDispositionRow("call_back", final=False, callback=True),
        ],
    )
    assert [d.code for d in await store.campaigns.dispositions("c")] == ["call_back", "sale"]
    await store.campaigns.add_leads(list_id, [{"e164": "+12125550301", "timezone": "America/New_York"}])
    (lead,) = await store.campaigns.callable_leads("c", now=T0)
    callback_id = await store.campaigns.dispose_lead(
        lead.id, "call_back", agent="alice", callback_at=T0 + 600
    )
    assert callback_id is not None
    callback = await store.callbacks.get(callback_id)
    assert callback is not None and callback.agent == "alice" and callback.due_at == T0 + 600
    assert await store.campaigns.callable_leads("c", now=T0 + 700) == []
    (row,) = await store.campaigns.lead_records(list_id)
    assert (row["disposition"], row["agent"]) == ("call_back", "alice")


async def test_import_dedupes_across_lists_and_rejects_dnc_and_bad_consent(
    store: Store,
) -> None:
    first = await _campaign(store)
    await store.campaigns.add_leads(first, [{"e164": "+12125550401"}])
    second = await store.campaigns.lead_list("c", "b")
    await store.dnc.add_numbers(["+12125550402"], source="national")
    rows = [
        {"name": "dup", "phone": "212-555-0401"},
        {"name": "dnc", "phone": "212-555-0402"},
        {"name": "bad", "phone": "212-555-0403", "consent": "maybe"},
        {"name": "ok", "phone": "212-555-0404", "consent": "yes"},
        {"name": "ok twice", "phone": "+1 212 555 0404"},
    ]
    report = await import_leads(store, second, rows)
    assert not report.committed and report.imported == 0  # rejected rows and no partial: nothing imported
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "+12125550402 is on a do-not-call list"),
        (4, "consent 'maybe': expected yes or no (or empty)"),
    ]
    report = await import_leads(store, second, rows, partial=True)
    assert report.imported == 1
    assert [(r.line, r.reason) for r in report.duplicates] == [
        (2, "+12125550401 is already in list 'a' of this campaign"),
        (6, "same phone as line 5"),
    ]
    (row,) = await store.campaigns.lead_records(second)
    assert row["call_consent"] is True
