"""The inbound disposition list in the store (SQLite and PostgreSQL): seeded once, edited since, and the
``cti store dispositions`` command line."""

from __future__ import annotations

import asyncio
import json

import pytest

from cti.cli import main
from cti.config import parse_config
from cti.core.dispositions import Code
from cti.store import Store


async def test_the_configured_list_seeds_an_empty_table_only(store: Store) -> None:
    repo = store.dispositions
    configured = parse_config(
        '[[disposition]]\ncode = "fixed"\noutcome = "resolution"\n'
        '[[disposition]]\ncode = "upsell"\nlabel = "Upsell"\nqueues = ["sales"]\ncallback = true\n'
        '[reports]\noutcomes = { upsell = "sale" }\n'
    ).dispositions()
    assert await repo.seed(configured, at=1.0) == 2
    codes = await repo.codes()
    assert codes == [
        Code("fixed", "", "resolution", (), False, True, 0),
        Code("upsell", "Upsell", "sale", ("sales",), True, True, 1),
    ]
    assert await repo.put(Code("fixed", "Fixed", "none", position=5), at=2.0) is False
    assert await repo.seed(configured, at=3.0) == 0  # a restart keeps what supervisors changed
    assert [(c.code, c.label, c.outcome) for c in await repo.codes()] == [
        ("upsell", "Upsell", "sale"),
        ("fixed", "Fixed", "none"),
    ]


async def test_put_remove_and_the_active_ones(store: Store) -> None:
    repo = store.dispositions
    assert await repo.put(Code("b", position=1)) is True
    assert await repo.put(Code("a", active=False, position=1)) is True
    assert [c.code for c in await repo.codes()] == ["a", "b"]  # same position: by code
    assert [c.code for c in await repo.codes(active_only=True)] == ["b"]
    assert await repo.remove("a") is True
    assert await repo.remove("a") is False
    assert [c.code for c in await repo.codes()] == ["b"]


def test_the_command_line_adds_lists_and_removes_codes(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*argv: str) -> int:
        return main(["store", "dispositions", *argv, "--url", db_url])

    assert main(["store", "migrate", "--url", db_url]) == 0
    assert run("add", "call back", "--callback", "--queue", "support", "--label", "Call back") == 0
    assert run("add", "upsell", "--outcome", "sale") == 0
    assert "added upsell (sale)" in capsys.readouterr().out
    assert run("add", "upsell", "--outcome", "resolution") == 0  # replaced, keeps its place
    assert "replaced upsell" in capsys.readouterr().out
    assert run("list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["code"], c["outcome"], c["queues"], c["callback"], c["position"]) for c in listed] == [
        ("call back", "none", ["support"], True, 0),
        ("upsell", "resolution", [], False, 1),
    ]
    assert run("list") == 0
    assert "0\tcall back\tCall back\tnone\tsupport\tcallback" in capsys.readouterr().out
    assert run("add", " bad") == 2  # a usage error names the field
    assert "--code" in capsys.readouterr().err
    assert run("remove", "upsell") == 0
    assert run("remove", "upsell") == 2
    assert "no disposition code 'upsell'" in capsys.readouterr().err

    async def left() -> list[str]:
        opened = await Store.open(db_url)
        try:
            return [c.code for c in await opened.dispositions.codes()]
        finally:
            await opened.close()

    assert asyncio.run(left()) == ["call back"]
