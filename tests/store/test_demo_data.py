import phonenumbers

from cti.core.journey import Direction, JourneyOutcome
from cti.store import demo_data
from cti.store.phones import normalize

NOW = 1_800_000_000.0


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    assert demo_data.generate(3, 300, NOW) == demo_data.generate(3, 300, NOW)
    assert demo_data.customers(3, 50) != demo_data.customers(4, 50)
    assert demo_data.customers(3, 50) == demo_data.customers(3, 80)[:50]  # a prefix: counts only add


def test_customers_have_realistic_chinese_and_english_names_and_valid_numbers() -> None:
    people = demo_data.customers(42, 2000)
    chinese = [c for c in people if c.language == "zh-CN"]
    assert 0.5 < len(chinese) / len(people) < 0.7
    assert all(
        any("\u4e00" <= ch <= "\u9fff" for ch in c.name)
        for c in chinese
        if c.name not in demo_data.HOSTILE.values()
    )
    assert any(any(ch in "éèöøåüçłñ" for ch in c.name.lower()) for c in people)
    for c in people:
        for raw in c.phones:
            e164 = normalize(raw)
            assert e164 is not None and phonenumbers.is_valid_number(phonenumbers.parse(e164)), raw
    assert len({c.external_ref for c in people}) == len(people)
    numbers = [normalize(p) for c in people for p in c.phones]
    assert len(numbers) - len(set(numbers)) == 8  # eight deliberately shared switchboards
    assert {c.name for c in people} >= set(demo_data.HOSTILE.values())


def test_history_is_plausible_and_in_the_past() -> None:
    data = demo_data.generate(42, 1000, NOW)
    assert len(data.orders) > 1000 and len(data.calls) > 1000 and data.tickets and data.dnc_numbers
    assert all(NOW - 731 * 86400 <= o.placed_at <= NOW and o.amount_cents >= 0 for o in data.orders)
    assert {t.kind for t in data.tickets} == {"complaint", "ticket"}
    for call in data.calls:
        j = call.journey
        assert j.started_at < NOW and (j.ended_at or 0) <= NOW + 1000
        if j.direction is Direction.INBOUND:
            assert j.queue_legs and j.queue_legs[0].queue in ("sales", "support")
        if j.outcome is JourneyOutcome.ANSWERED:
            assert call.disposition and j.agents[-1] in demo_data.MEMBERS
    assert len({c.journey.linkedid for c in data.calls}) == len(data.calls)


def test_the_demo_agents_match_the_simulated_pbx() -> None:
    agents = {a.username: a for a in demo_data.AGENTS}
    assert [agents[u].member_name for u in ("alice", "bob", "carol", "dave", "erin", "frank")] == list(
        demo_data.MEMBERS
    )
    assert [agents[u].interface for u in ("alice", "frank")] == ["Local/1001@agents/n", "Local/1006@agents/n"]
    assert agents["super"].role == "supervisor" and agents["super"].member_name is None
