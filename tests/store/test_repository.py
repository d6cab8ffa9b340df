import asyncio
import csv
import json
import time
from pathlib import Path

import pytest

from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.store import NewCustomer, Store, database, phones
from cti.store.callrecords import CallKey, call_key
from cti.store.phones import normalize
from cti.store.tiers_repo import TierRepository
from cti.tierschedule import TierSchedule
from tests.conftest import timeout

T0 = 1_800_000_000.0
DAY = 86400.0


def journey(
    n: int,
    number: str = "+8613812345678",
    *,
    start: float = T0,
    queue: str = "support",
    agent: str | None = "Alice",
    direction: Direction = Direction.INBOUND,
) -> CallJourney:
    legs = []
    if direction is Direction.INBOUND:
        leg = QueueLeg(QueueName(queue), UniqueId(f"{start}.{n}"), entered_at=start + 1, position=1)
        leg.left_at, leg.wait_seconds = start + 11, 10.0
        if agent:
            leg.outcome, leg.agent, leg.answered_at = LegOutcome.ANSWERED, AgentId(agent), start + 11
            leg.talk_seconds, leg.ended_at = 60.0, start + 71
            leg.ring_no_answer = [AgentId("Bob")]
        else:
            leg.outcome = LegOutcome.ABANDONED
        legs.append(leg)
    return CallJourney(
        linkedid=LinkedId(f"{int(start)}.{n}"),
        direction=direction,
        started_at=start,
        caller_number=number if direction is Direction.INBOUND else "Alice",
        caller_name="王伟 <b>",
        did="4008001234" if direction is Direction.INBOUND else number,
        ended_at=start + 71,
        outcome=JourneyOutcome.ANSWERED if agent else JourneyOutcome.ABANDONED,
        queue_legs=legs,
        agents=[AgentId(agent)] if agent else [],
        hangup_cause=16,
        hold_seconds=1.5,
        server="pbx1",
        answered_at=start + 11 if agent and direction is Direction.INBOUND else None,
    )


async def test_a_caller_is_found_by_any_format_of_their_number(store: Store) -> None:
    cid = await store.customers.add_customer(
        NewCustomer(
            name="王伟", phones=["+86 138 1234 5678", "(212) 555-0134"], company="华信科技", owner="张伟"
        )
    )
    for dialled in ("+8613812345678", "0086 138 1234 5678", "8613812345678", "+86-138-1234-5678"):
        found = await store.customers.lookup_caller(dialled)
        assert found.normalized == "+8613812345678"
        assert [c.id for c in found.customers] == [cid], dialled
    for dialled in ("2125550134", "1 (212) 555-0134", "+1 212 555 0134 ext. 5", "212.555.0134"):
        found = await store.customers.lookup_caller(dialled)
        assert [c.id for c in found.customers] == [cid], dialled
    card = found.customers[0]
    assert card.name == "王伟" and card.company == "华信科技" and card.owner == "张伟"
    assert card.phones == ["+8613812345678", "+12125550134"]
    assert card.tier == "C" and card.do_not_call is None


async def test_anonymous_and_unknown_callers_get_an_empty_lookup(store: Store) -> None:
    await store.customers.add_customer(NewCustomer(name="x", phones=["+8613812345678"]))
    for dialled in ("anonymous", "", "1001", "garbage<script>"):
        found = await store.customers.lookup_caller(dialled)
        assert found.normalized is None and found.customers == []
        assert found.to_json()["known"] is False
    unknown = await store.customers.lookup_caller("+44 20 7946 0958")
    assert unknown.normalized == "+442079460958" and unknown.customers == []


async def test_a_shared_number_returns_every_customer_primary_owner_first(store: Store) -> None:
    first = await store.customers.add_customer(NewCustomer(name="Front desk", phones=["+1 212 555 0134"]))
    second = await store.customers.add_customer(
        NewCustomer(name="Owner", phones=["+1 646 555 0199", "2125550134"])
    )
    found = await store.customers.lookup_caller("212-555-0134")
    assert [c.id for c in found.customers] == [first, second]


async def test_the_lookup_has_history_complaints_tickets_and_dnc(store: Store) -> None:
    cid = await store.customers.add_customer(
        NewCustomer(
            name="Zoë Müller", phones=["+8613812345678"], do_not_call=True, dnc_source="customer request"
        )
    )
    other = await store.customers.add_customer(NewCustomer(name="Other", phones=["+8613900000000"]))
    await store.calls.record_journeys([journey(i, start=T0 + i * 100) for i in range(8)])
    await store.calls.record_journeys([journey(99, "+8613900000000")])
    await store.calls.save_disposition(
        f"{int(T0 + 700)}.7", "Alice", "resolved", "换货 <i>done</i>", server="pbx1"
    )
    complaint = await store.customers.add_ticket(
        cid, "complaint", "late delivery", priority="high", opened_at=T0
    )
    await store.customers.add_ticket(cid, "ticket", "install", due_at=T0 + DAY, opened_at=T0 + 1)
    closed = await store.customers.add_ticket(cid, "complaint", "old", opened_at=T0 - DAY)
    await store.customers.set_ticket_status(closed, "resolved")
    await store.customers.add_ticket(other, "complaint", "not theirs")

    found = await store.customers.lookup_caller("0086 138 1234 5678", history=3)
    (card,) = found.customers
    assert [i.linkedid for i in card.interactions] == [f"{int(T0 + k * 100)}.{k}" for k in (7, 6, 5)]
    latest = card.interactions[0]
    assert (latest.agent, latest.queue, latest.direction, latest.outcome) == (
        "Alice",
        "support",
        "inbound",
        "answered",
    )
    assert (latest.disposition, latest.notes, latest.duration) == ("resolved", "换货 <i>done</i>", 71.0)
    assert [t.id for t in card.open_complaints] == [complaint]
    assert [t.subject for t in card.open_tickets] == ["install"]
    assert card.do_not_call is not None and card.do_not_call.source == "customer request"
    payload = json.loads(json.dumps(found.to_json()))
    assert payload["customers"][0]["name"] == "Zoë Müller"  # strings stay strings: never escaped here
    assert payload["customers"][0]["interactions"][0]["notes"] == "换货 <i>done</i>"
    assert payload["customers"][0]["do_not_call"] is True


async def test_a_number_on_the_dnc_list_shows_in_the_lookup(store: Store) -> None:
    await store.customers.add_customer(NewCustomer(name="Listed", phones=["+12125550134"]))
    assert await store.dnc.add_numbers(["(212) 555-0134", "garbage"], source="national") == 1
    found = await store.customers.lookup_caller("+1 212 555 0134")
    assert found.number_do_not_call is not None and found.number_do_not_call.source == "national"
    assert found.customers[0].do_not_call is not None


async def test_unknown_callers_show_their_recent_calls_by_number(store: Store) -> None:
    await store.calls.record_journeys(
        [journey(1, "+442079460958"), journey(2, "+442079460958", start=T0 + 10)]
    )
    found = await store.customers.lookup_caller("00 44 20 7946 0958")
    assert found.customers == [] and [i.linkedid for i in found.recent_calls] == [
        f"{int(T0 + 10)}.2",
        f"{int(T0)}.1",
    ]


async def test_journeys_round_trip_through_the_store(store: Store) -> None:
    written = [
        journey(1),
        journey(2, agent=None, start=T0 + 5),
        journey(3, "+12125550134", direction=Direction.OUTBOUND, start=T0 + 9),
    ]
    assert await store.calls.record_journeys(written) == 3
    read = await store.calls.journeys(T0, T0 + 10)
    assert [j.to_json() for j in read] == [j.to_json() for j in written]
    assert read[0].queue_legs[0].answered_at == written[0].queue_legs[0].answered_at
    legs = await store.calls.queue_legs(T0, T0 + 10)
    assert [(leg.uniqueid, leg.outcome) for leg in legs] == [
        (f"{T0}.1", LegOutcome.ANSWERED),
        (f"{T0 + 5}.2", LegOutcome.ABANDONED),
    ]
    assert await store.calls.journeys(T0 + 10, T0 + 20) == []


async def test_writing_a_journey_twice_stores_it_once_with_its_latest_state(store: Store) -> None:
    first = journey(1, agent=None)
    await store.calls.record_journeys([first])
    again = journey(1)
    again.transfers = 2
    assert await store.calls.record_journeys([again, again]) == 1
    (stored,) = await store.calls.journeys(0, 2 * T0)
    assert stored.to_json() == again.to_json()
    assert await store.calls.interaction_count() == 1
    assert len(await store.calls.queue_legs(0, 2 * T0)) == 1


async def test_calls_are_linked_to_the_customer_by_normalized_number(store: Store) -> None:
    cid = await store.customers.add_customer(NewCustomer(name="Bob", phones=["212 555 0134"]))
    await store.calls.record_journeys(
        [journey(1, "+1 (212) 555-0134"), journey(2, "2125550134", direction=Direction.OUTBOUND)]
    )
    (card,) = (await store.customers.lookup_caller("+12125550134")).customers
    assert card.id == cid and len(card.interactions) == 2


async def test_a_disposition_saved_before_the_call_record_is_attached_later(store: Store) -> None:
    call = journey(1)
    await store.calls.save_disposition(
        call.linkedid, "Alice", "callback", "first note", at=T0 + 100, server="pbx1"
    )
    await store.calls.save_disposition(
        call.linkedid, "Bob", "sale", "Bob's <note>", at=T0 + 200, server="pbx1"
    )
    await store.calls.record_journeys([call])
    (card_call,) = (await store.customers.lookup_caller("+8613812345678")).recent_calls
    assert (card_call.disposition, card_call.notes) == ("sale", "Bob's <note>")
    await store.calls.record_journeys([call])  # a rewrite keeps the disposition
    (card_call,) = (await store.customers.lookup_caller("+8613812345678")).recent_calls
    assert card_call.disposition == "sale"


async def test_many_concurrent_writers_lose_nothing(store: Store) -> None:
    async def writer(w: int) -> None:
        for b in range(5):
            batch = [journey(w * 1000 + b * 10 + k, start=T0 + w, agent="Alice") for k in range(10)]
            await store.calls.record_journeys(batch)
            await store.calls.save_disposition(batch[0].linkedid, f"agent{w}", "done", "", server="pbx1")

    async def rewriter() -> None:
        for _ in range(10):
            await store.calls.record_journeys([journey(1000 + k, start=T0 + 1) for k in range(10)])

    await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(12)), rewriter()), timeout(60))
    assert await store.calls.interaction_count() == 12 * 50
    assert len(await store.calls.queue_legs(0, 2 * T0)) == 12 * 50


async def test_bulk_writes_on_sqlite_checkpoint_the_wal_in_the_background_and_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "CHECKPOINT_EVERY", 20)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", default_country="CN")
    try:

        async def writer(w: int) -> None:
            for b in range(6):
                await store.calls.record_journeys(
                    [journey(w * 1000 + b * 10 + k, start=T0 + w) for k in range(10)]
                )
                await asyncio.sleep(0)

        async def reader() -> None:
            for _ in range(30):
                assert (await store.customers.lookup_caller("13812345678")).dialled == "13812345678"

        await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(5)), reader()), timeout(60))
        assert await store.calls.interaction_count() == 5 * 60
        assert len(await store.calls.queue_legs(0, 2 * T0)) == 5 * 60
    finally:
        await store.close()  # waits for a checkpoint still running
    assert store.background_checkpoints >= 1


async def test_an_in_memory_store_starts_no_background_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "CHECKPOINT_EVERY", 1)
    async with await Store.open("sqlite+aiosqlite:///:memory:") as store:
        await store.calls.record_journeys([journey(k) for k in range(5)])
        assert await store.calls.interaction_count() == 5
    assert store.background_checkpoints == 0


async def test_agents_authenticate_with_their_password_only(store: Store) -> None:
    await store.accounts.upsert_agent(
        "alice", "s3cret", "agent", "Alice", "Local/1001@agents/n", "Alice Zhang", skills={"sales": 7}
    )
    account = await store.accounts.authenticate("alice", "s3cret")
    assert account is not None and account.member_name == "Alice" and account.skills == {"sales": 7}
    assert await store.accounts.authenticate("alice", "wrong") is None
    assert await store.accounts.authenticate("mallory", "s3cret") is None
    await store.accounts.upsert_agent("alice", None, "supervisor", "Alice", "Local/1001@agents/n", "Alice Z")
    account = await store.accounts.authenticate("alice", "s3cret")
    assert account is not None and account.is_supervisor and account.display_name == "Alice Z"
    assert account.skills == {"sales": 7}  # skills=None keeps them


async def test_a_bad_role_or_a_new_agent_without_password_is_refused(store: Store) -> None:
    from cti.core.errors import UsageError

    with pytest.raises(UsageError, match="role"):
        await store.accounts.upsert_agent("x", "p", "admin", "X", "", "")
    with pytest.raises(UsageError, match="password"):
        await store.accounts.upsert_agent("x", None, "agent", "X", "", "")
    assert await store.accounts.agents() == []


async def test_the_demo_seed_creates_agents_queues_and_customers_once(store: Store, tmp_path: Path) -> None:
    await store.demo.seed(customers=120, seed=7, now=T0)
    await store.demo.seed(customers=120, seed=7, now=T0)
    accounts = {a.username: a for a in await store.accounts.agents()}
    assert sorted(accounts) == ["alice", "bob", "carol", "dave", "erin", "frank", "super"]
    assert [accounts[u].member_name for u in ("alice", "frank")] == ["Alice", "Frank"]
    assert accounts["carol"].interface == "Local/1003@agents/n"
    assert accounts["super"].role == "supervisor"
    assert await store.accounts.authenticate("erin", "demo") is not None
    assert [q["name"] for q in await store.queues.queues()] == ["sales", "support"]
    assert await store.demo.seeded() == "seed=7 customers=120"
    path = tmp_path / "callers.csv"
    assert await store.demo.export_callers_csv(path) == 120
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 120 and all(normalize(r["number"]) == r["number"] for r in rows)
    looked = await store.customers.lookup_caller(rows[1]["number"])
    assert looked.customers[0].name == rows[1]["name"]
    assert await store.calls.interaction_count() > 100


async def test_tiers_are_recomputed_from_orders_in_the_window(store: Store) -> None:
    ids = await store.customers.add_customers(
        [NewCustomer(name=f"c{i}", phones=[f"+1212555{i:04d}"]) for i in range(40)]
    )
    for i, cid in enumerate(ids):
        if i < 8:
            await store.customers.add_order(cid, (100 - i) * 100, T0 - 10 * DAY)
    await store.customers.add_order(ids[39], 1_000_000, T0 - 400 * DAY)  # outside the 365-day window
    await store.customers.add_ticket(ids[0], "complaint", "broken", opened_at=T0 - DAY)
    assert await store.tiers.recompute(now=T0) > 0
    cards = [(await store.customers.lookup_caller(f"+1212555{i:04d}")).customers[0] for i in range(40)]
    assert [c.tier for c in cards[:9]] == ["A", "A", "B", "B", "B", "B", "B", "B", "C"]
    assert cards[39].tier == "C" and cards[39].at_risk  # big lifetime spender, quiet for 400 days
    assert cards[0].at_risk  # valuable and complaining
    assert not cards[1].at_risk
    assert cards[0].rfm_code == "515"
    assert await store.tiers.recompute(now=T0) == 0  # nothing changed


async def test_campaigns_never_call_dnc_numbers_or_customers_with_open_complaints(store: Store) -> None:
    happy = await store.customers.add_customer(NewCustomer(name="happy", phones=["+12125550001"]))
    angry = await store.customers.add_customer(NewCustomer(name="angry", phones=["+12125550002"]))
    await store.customers.add_customer(
        NewCustomer(name="opted out", phones=["+12125550003"], do_not_call=True)
    )
    resolved = await store.customers.add_customer(NewCustomer(name="resolved", phones=["+12125550005"]))
    await store.customers.add_ticket(angry, "complaint", "rude agent")
    old = await store.customers.add_ticket(resolved, "complaint", "fixed")
    await store.customers.set_ticket_status(old, "closed")
    await store.customers.add_ticket(happy, "ticket", "service ticket is not a complaint")
    await store.campaigns.upsert_campaign("renewals", queue="sales", call_from_hour=0, call_to_hour=24)
    list_id = await store.campaigns.lead_list("renewals", "spring")
    from cti.store.csvio import import_leads

    report = await import_leads(
        store,
        list_id,
        [
            {"name": n, "phone": f"212-555-000{i}", "timezone": "America/New_York"}
            for i, n in enumerate("xabcde")
        ][1:],
    )
    assert report.imported == 5
    # put on a national list after the import: still never dialled
    await store.dnc.add_numbers(["+12125550004"], source="national")
    leads = await store.campaigns.callable_leads("renewals", now=T0)
    assert sorted(lead.number for lead in leads) == ["+12125550001", "+12125550005"]
    status = await store.campaigns.record_lead_attempt(leads[0].id, "no-answer", at=T0)
    assert status == "retry"
    assert [lead.id for lead in await store.campaigns.callable_leads("renewals", now=T0 + 1)] == [leads[1].id]
    assert len(await store.campaigns.callable_leads("renewals", now=T0 + 3601)) == 2


async def test_leads_are_called_only_in_their_local_calling_hours(store: Store) -> None:
    await store.campaigns.upsert_campaign("day", call_from_hour=9, call_to_hour=21)
    list_id = await store.campaigns.lead_list("day", "l")
    from cti.store.csvio import import_leads

    await import_leads(
        store,
        list_id,
        [
            {"name": "ny", "phone": "+12125550001", "timezone": "America/New_York"},
            {"name": "sh", "phone": "+8613812345678", "timezone": ""},  # China, from the number
        ],
    )
    night_in_new_york = 1_800_003_600.0  # 2027-01-15 09:00 UTC: 04:00 in New York, 17:00 in Shanghai
    assert [lead.name for lead in await store.campaigns.callable_leads("day", now=night_in_new_york)] == [
        "sh"
    ]
    assert [
        lead.name for lead in await store.campaigns.callable_leads("day", now=night_in_new_york + 8 * 3600)
    ] == ["ny"]


async def test_hostile_and_oversized_text_is_stored_as_data_not_a_failed_batch(store: Store) -> None:
    huge = journey(1)
    huge.caller_name = "<script>alert('x')</script>" * 100
    huge.queue_legs[0].agent = AgentId("A" * 500)
    await store.calls.record_journeys([huge, journey(2)])
    await store.calls.save_disposition(huge.linkedid, "Alice", "d" * 300, "n" * 10_000, server="pbx1")
    stored = {j.linkedid: j for j in await store.calls.journeys(0, 2 * T0)}
    assert len(stored) == 2
    assert stored[huge.linkedid].caller_name == huge.caller_name[:200]
    (call,) = [
        c
        for c in (await store.customers.lookup_caller("+8613812345678")).recent_calls
        if c.linkedid == huge.linkedid
    ]
    assert call.notes == "n" * 10_000 and call.disposition == "d" * 64


async def test_a_customer_with_oversized_fields_is_kept_with_the_fields_cut(store: Store) -> None:
    cid = await store.customers.add_customer(
        NewCustomer(name="名" * 500, phones=["+8613812345678"], company="c" * 999)
    )
    (card,) = (await store.customers.lookup_caller("+8613812345678")).customers
    assert card.id == cid and card.name == "名" * 200 and len(card.company) == 200


async def test_a_new_customer_inherits_the_earlier_calls_from_their_number(store: Store) -> None:
    await store.calls.record_journeys(
        [journey(1, "+442079460958"), journey(2, "+442079460958", start=T0 + 5)]
    )
    assert len((await store.customers.lookup_caller("+442079460958")).recent_calls) == 2
    cid = await store.customers.add_customer(
        NewCustomer(name="New", phones=["020 7946 0958", "+44 20 7946 0958"])
    )
    found = await store.customers.lookup_caller("+442079460958")
    assert found.recent_calls == []
    assert found.customers[0].id == cid and len(found.customers[0].interactions) == 2


async def test_a_customer_asking_not_to_be_called_is_flagged_and_never_dialled(store: Store) -> None:
    cid = await store.customers.add_customer(NewCustomer(name="Quiet", phones=["+12125550001"]))
    await store.campaigns.upsert_campaign("c", call_from_hour=0, call_to_hour=24)
    from cti.store.csvio import import_leads

    await import_leads(
        store, await store.campaigns.lead_list("c", "l"), [{"name": "Quiet", "phone": "2125550001"}]
    )
    assert len(await store.campaigns.callable_leads("c", now=T0)) == 1
    await store.dnc.set_do_not_call(cid, True, source="customer request", at=T0)
    card = (await store.customers.lookup_caller("+12125550001")).customers[0]
    assert card.do_not_call is not None and (card.do_not_call.source, card.do_not_call.since) == (
        "customer request",
        T0,
    )
    assert await store.campaigns.callable_leads("c", now=T0) == []
    await store.dnc.set_do_not_call(cid, False, source="customer request")
    assert (await store.customers.lookup_caller("+12125550001")).customers[0].do_not_call is None


async def test_a_disposition_the_record_write_missed_still_shows_in_the_pop(store: Store) -> None:
    call = journey(1)
    await store.calls.record_journeys([call])
    # as if save_disposition's update had raced the record's insert: only the dispositions row exists
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO dispositions (server, linkedid, agent, disposition, notes, saved_at) VALUES "
            + ("(?, ?, ?, ?, ?, ?)" if store.dialect == "sqlite" else "($1, $2, $3, $4, $5, $6)"),
            (call.server, call.linkedid, "Alice", "sale", "raced", T0),
        )
    (shown,) = (await store.customers.lookup_caller("+8613812345678")).recent_calls
    assert (shown.disposition, shown.notes) == ("sale", "raced")


async def test_the_tier_schedule_recomputes_until_cancelled(store: Store) -> None:
    ids = await store.customers.add_customers(
        [NewCustomer(name=f"c{i}", phones=[f"+1212555{i:04d}"]) for i in range(20)]
    )
    await store.customers.add_order(ids[0], 100_00, placed_at=time.time() - DAY)
    schedule = TierSchedule(store.tiers, interval=0.05)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(timeout(1.0)):
            await schedule.run()
    assert (await store.tiers.counts()) == {"A": 1, "C": 19}
    assert schedule.tier_runs >= 2 and schedule.tier_failures == 0
    last = await store.tiers.computed_at()
    assert last is not None and time.time() - last < timeout(1.0)


async def test_a_restarted_schedule_does_not_redo_fresh_work(store: Store) -> None:
    await store.customers.add_customer(NewCustomer(name="c", phones=["+12125550100"]))
    assert await store.tiers.computed_at() is None
    await store.tiers.recompute()  # e.g. `cti store tiers`, or the daemon before a restart
    schedule = TierSchedule(store.tiers, interval=3600)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await schedule.run()
    assert schedule.tier_runs == 0


class FailingOnce(TierRepository):
    """A real store's tiers whose first recomputation fails (the database went away for a moment)."""

    failed = False

    async def recompute(self, *, now: float | None = None) -> int:
        if not self.failed:
            self.failed = True
            raise ConnectionError("database is down")
        return await super().recompute(now=now)


async def test_a_failed_scheduled_run_is_logged_and_retried(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(db_url)
    try:
        await store.customers.add_customer(NewCustomer(name="c", phones=["+12125550100"]))
        schedule = TierSchedule(FailingOnce(store.db, store.tiers.policy), interval=0.05)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(timeout(1.0)):
                await schedule.run()
        assert schedule.tier_failures == 1 and schedule.tier_runs >= 1
        assert "recomputing the value tiers failed: database is down" in caplog.text
        assert await store.tiers.counts() == {"C": 1}
    finally:
        await store.close()


async def test_numbers_normalized_by_the_caller_are_written_without_parsing_again(store: Store) -> None:
    holder = await store.customers.add_customer(NewCustomer(name="Holder", phones=["+8613812345678"]))
    calls = [
        journey(1, "138 1234 5678"),
        journey(2, "garbage", start=T0 + 1),
        journey(3, "anonymous", start=T0 + 2),
    ]
    phones.clear_cache()
    normalized: dict[CallKey, str | None] = {call_key(calls[0]): "+8613812345678", call_key(calls[1]): None}
    assert await store.calls.record_journeys(calls, normalized=normalized) == 3
    # only the third number, which came without its E.164 form, went through libphonenumber's cache
    assert phones.cache_info().misses == 1
    found = await store.customers.lookup_caller("+86 138 1234 5678")
    assert [i.linkedid for i in found.customers[0].interactions] == [calls[0].linkedid]
    assert found.customers[0].id == holder
    rows = {j.linkedid: j for j in await store.calls.journeys(T0, T0 + 10)}
    assert set(rows) == {c.linkedid for c in calls}  # a call with no usable number is still recorded


def test_the_bulk_parameters_name_real_columns_in_the_order_the_writer_gives_them() -> None:
    from cti.store.callrecords import (
        INTERACTION_PARAM_COLUMNS,
        LEG_PARAM_COLUMNS,
        interaction_params,
        leg_params,
    )
    from cti.store.models import Interaction, InteractionQueueLeg

    assert set(LEG_PARAM_COLUMNS) == {c.name for c in InteractionQueueLeg.__table__.columns} - {"id"}
    assert set(INTERACTION_PARAM_COLUMNS) <= {c.name for c in Interaction.__table__.columns}
    call = journey(1)
    row = dict(zip(INTERACTION_PARAM_COLUMNS, interaction_params(call, "+8613812345678"), strict=True))
    assert (row["linkedid"], row["remote_e164"], row["caller_number"], row["agents"]) == (
        call.linkedid,
        "+8613812345678",
        "+8613812345678",
        '["Alice"]',
    )
    (leg,) = (dict(zip(LEG_PARAM_COLUMNS, p, strict=True)) for p in leg_params(call))
    assert (leg["seq"], leg["uniqueid"], leg["ring_no_answer"]) == (0, f"{T0}.1", '["Bob"]')


async def test_two_servers_calls_with_the_same_linkedid_are_two_records(store: Store) -> None:
    """Linkedids are unique per Asterisk server only: pbx2's call must not overwrite pbx1's (issue 14)."""
    first = journey(1)
    second = journey(1, "+8613900000000", agent="Bob")
    second.server = "pbx2"
    assert (first.linkedid, first.queue_legs[0].uniqueid) == (second.linkedid, second.queue_legs[0].uniqueid)
    await store.calls.record_journeys([first])
    await store.calls.save_disposition(first.linkedid, "Alice", "sale", "pbx1's", server="pbx1")
    await store.calls.record_journeys([second])  # alone, and then again in one batch with the first
    await store.calls.save_disposition(second.linkedid, "Bob", "callback", "pbx2's", server="pbx2")
    assert await store.calls.record_journeys([first, second]) == 2
    stored = {j.server: j for j in await store.calls.journeys(T0, T0 + 10)}
    assert {s: j.to_json() for s, j in stored.items()} == {"pbx1": first.to_json(), "pbx2": second.to_json()}
    legs = await store.calls.queue_legs(T0, T0 + 10)
    assert sorted(leg.agent or "" for leg in legs) == ["Alice", "Bob"]
    assert await store.calls.answered_dispositions(T0, T0 + 10) == [
        (first.linkedid, "Alice", "sale"),
        (second.linkedid, "Bob", "callback"),
    ]
    (mine,) = (await store.customers.lookup_caller("+8613812345678")).recent_calls
    (theirs,) = (await store.customers.lookup_caller("+8613900000000")).recent_calls
    assert (mine.disposition, mine.notes, theirs.disposition, theirs.notes) == (
        "sale",
        "pbx1's",
        "callback",
        "pbx2's",
    )
    assert await store.calls.interaction_count() == 2


async def test_a_repaired_leg_keeps_its_flag(store: Store) -> None:
    call = journey(1)
    call.queue_legs[0].repaired = True
    await store.calls.record_journeys([call])
    ((stored,),) = [j.queue_legs for j in await store.calls.journeys(T0, T0 + 10)]
    assert stored.repaired and stored.to_json()["repaired"] is True


async def test_a_lead_whose_time_zone_is_unknown_is_not_called(store: Store) -> None:
    await store.campaigns.upsert_campaign("tz", call_from_hour=0, call_to_hour=24)
    list_id = await store.campaigns.lead_list("tz", "l")
    from cti.store.csvio import import_leads

    await import_leads(
        store,
        list_id,
        [
            {"name": "ny", "phone": "+12125550001", "timezone": ""},  # New York, from the number
            {"name": "tollfree", "phone": "+18005550100", "timezone": ""},  # many zones: all must be inside
            {"name": "intl", "phone": "+80012345678", "timezone": ""},  # international freephone: no zone
        ],
    )
    noon_in_new_york = 1_800_003_600.0 + 8 * 3600  # 2027-01-15 17:00 UTC
    all_day = await store.campaigns.callable_leads("tz", now=noon_in_new_york)
    assert sorted(lead.name for lead in all_day) == ["ny", "tollfree"]
    await store.campaigns.upsert_campaign("tz", call_from_hour=8, call_to_hour=21)
    assert [lead.name for lead in await store.campaigns.callable_leads("tz", now=noon_in_new_york)] == ["ny"]
