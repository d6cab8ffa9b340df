"""Agents' skills and languages in the store, on SQLite and PostgreSQL (store.skills)."""

import pytest
from sqlalchemy.exc import IntegrityError

from cti.store import SkillError, Store, UnknownAgent
from cti.store.skills import check_language, parse_skill


async def agents(store: Store, *names: str) -> None:
    for name in names:
        await store.accounts.upsert_agent(name, "pw", "agent", name.title(), f"Local/{name}@agents/n", name)


async def test_skills_are_set_replaced_and_removed_one_by_one(store: Store) -> None:
    await agents(store, "alice", "bob")
    assert await store.skills.of_agent("alice") == {}
    assert await store.skills.replace("alice", {"support": 3, "sales": 7}) == {"sales": 7, "support": 3}
    assert list(await store.skills.of_agent("alice")) == ["sales", "support"]  # sorted by name
    assert await store.skills.set("alice", "sales", 9) == {"sales": 9, "support": 3}  # changed
    assert await store.skills.set("alice", "billing-2", 1) == {"billing-2": 1, "sales": 9, "support": 3}
    assert await store.skills.remove("alice", "support") == {"billing-2": 1, "sales": 9}
    assert await store.skills.remove("alice", "support") == {"billing-2": 1, "sales": 9}  # already gone
    assert await store.skills.set("bob", "sales", 4) == {"sales": 4}
    assert await store.skills.replace("alice", {"vip_care": 10}) == {"vip_care": 10}
    assert await store.skills.all() == {"alice": {"vip_care": 10}, "bob": {"sales": 4}}
    assert (await store.accounts.agent("alice")).skills == {"vip_care": 10}  # type: ignore[union-attr]
    assert await store.skills.replace("alice", {}) == {}
    assert await store.skills.all() == {"alice": {}, "bob": {"sales": 4}}


async def test_an_update_sets_and_removes_in_one_go(store: Store) -> None:
    await agents(store, "alice")
    await store.skills.replace("alice", {"sales": 7, "support": 3, "billing": 2})
    after = await store.skills.update("alice", {"sales": 8, "french": 6}, remove=["support", "nothing"])
    assert after == {"billing": 2, "french": 6, "sales": 8}


async def test_every_active_agent_is_listed_for_the_router(store: Store) -> None:
    await agents(store, "carol", "alice")
    await store.accounts.upsert_agent("super", "pw", "supervisor", None, "", "Sam", skills={"coaching": 5})
    await store.skills.set("carol", "support", 6)
    assert await store.skills.all() == {"alice": {}, "carol": {"support": 6}, "super": {"coaching": 5}}


@pytest.mark.parametrize(
    ("levels", "words"),
    [
        ({"sales": 11}, "level is a whole number 1..10, not 11"),
        ({"sales": 0}, "not 0"),
        ({"Sales": 5}, "'Sales': use 1 to 32 of a-z"),
        ({"": 5}, "skill name ''"),
        ({"a" * 33: 5}, "1 to 32"),
        ({"sales team": 5}, "skill name 'sales team'"),
        ({"sales": True}, "not True"),
    ],
)
async def test_bad_skills_are_refused_and_change_nothing(
    store: Store, levels: dict[str, int], words: str
) -> None:
    await agents(store, "alice")
    await store.skills.replace("alice", {"support": 3})
    for attempt in (
        store.skills.replace("alice", levels),
        store.skills.update("alice", {"billing": 2, **levels}),
    ):
        with pytest.raises(SkillError, match=words):
            await attempt
    with pytest.raises(SkillError, match=words):
        await store.accounts.upsert_agent("alice", None, "agent", "Alice", "", "Alice", skills=levels)
    assert await store.skills.of_agent("alice") == {"support": 3}


async def test_an_unknown_agent_is_named_in_the_error(store: Store) -> None:
    for attempt in (
        store.skills.of_agent("nobody"),
        store.skills.set("nobody", "sales", 5),
        store.skills.remove("nobody", "sales"),
        store.skills.languages_of("nobody"),
        store.skills.set_languages("nobody", ["fr"]),
    ):
        with pytest.raises(UnknownAgent, match="no agent 'nobody'"):
            await attempt
    assert await store.skills.all() == {}


async def test_the_database_itself_refuses_a_level_out_of_range(store: Store) -> None:
    await agents(store, "alice")
    await store.skills.set("alice", "sales", 5)
    with pytest.raises(IntegrityError):
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE agent_skills SET level = 11")
    assert await store.skills.of_agent("alice") == {"sales": 5}


async def test_languages_are_bcp47_tags_in_their_usual_case(store: Store) -> None:
    await agents(store, "alice", "bob")
    assert await store.skills.languages_of("alice") == []
    assert await store.skills.set_languages("alice", ["ZH-cn", "fr", "en", "fr"]) == ["en", "fr", "zh-CN"]
    assert await store.skills.set_languages("bob", ["sr-latn-rs"]) == ["sr-Latn-RS"]
    assert await store.skills.all_languages() == {"alice": ["en", "fr", "zh-CN"], "bob": ["sr-Latn-RS"]}
    assert await store.skills.set_languages("alice", []) == []
    with pytest.raises(SkillError, match="language 'french!'"):
        await store.skills.set_languages("bob", ["de", "french!"])
    assert await store.skills.languages_of("bob") == ["sr-Latn-RS"]


def test_a_skill_on_the_command_line_reads_name_colon_level() -> None:
    assert parse_skill("sales:7") == ("sales", 7)
    assert parse_skill("sales:0") == ("sales", 0)  # remove it
    assert parse_skill("tier_2-support:10") == ("tier_2-support", 10)
    for bad, words in (
        ("sales:11", "not 11"),
        ("Sales:x", "'Sales'"),
        ("sales:x", "the level is a whole number 0..10"),
        (":5", "skill name ''"),
        ("sales", "write NAME:LEVEL"),
        ("sales:-1", "the level is a whole number 0..10"),
    ):
        with pytest.raises(SkillError, match=words):
            parse_skill(bad)


def test_language_tags() -> None:
    assert [check_language(t) for t in ("EN", "en-us", "zh-hant-tw", "yue")] == [
        "en",
        "en-US",
        "zh-Hant-TW",
        "yue",
    ]
    for bad in ("", "e", "english-language-x", "fr_FR", "a" * 17):
        with pytest.raises(SkillError):
            check_language(bad)
