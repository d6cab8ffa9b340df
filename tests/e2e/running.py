"""A daemon assembled for tests: real store, consoles on a free port, no Asterisk unless configured."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cti.app import Daemon
from cti.config import parse_config
from cti.store import NewCustomer, Store

HOSTILE = "<script>alert(1)</script>张伟"
HOSTILE_NUMBER = "+14155550101"
COMMAND_KEY = "test-command-key-0123456789"


async def seed_accounts(url: str) -> None:
    """alice..frank (agents Alice..Frank), super (supervisor), password demo; one hostile-named customer."""
    store = await Store.open(url)
    try:
        for n, member in enumerate(("Alice", "Bob", "Carol", "Dave", "Erin", "Frank"), start=1):
            await store.accounts.upsert_agent(
                member.lower(), "demo", "agent", member, f"Local/100{n}@agents/n", member
            )
        await store.accounts.upsert_agent("super", "demo", "supervisor", None, "", "Sam")
        await store.customers.add_customer(NewCustomer(HOSTILE, phones=[HOSTILE_NUMBER], owner="Alice"))
    finally:
        await store.close()


def config_text(url: str, extra: str = "", **web: object) -> str:
    web_keys = "".join(f"{k} = {json.dumps(v)}\n" for k, v in web.items())
    return (
        f'[daemon]\nname = "t1"\nlog_format = "text"\n[store]\nurl = "{url}"\nflush_interval = 0.05\n'
        'spill_file = ""\n'
        f'[web]\nport = 0\nsecret = "0123456789abcdef0123"\n{web_keys}{extra}'
    )


def instance(url: str, redis_url: str, name: str, extra: str = "") -> Daemon:
    """One of several daemons sharing the store and the real Redis (stream and command keys under t:)."""
    shared = (
        f'[redis]\nurl = "{redis_url}"\nstream = "t:events"\ncommand_prefix = "t"\n'
        f'command_key = "{COMMAND_KEY}"\n'
    )
    return Daemon(parse_config(config_text(url, shared + extra).replace('name = "t1"', f'name = "{name}"')))


@asynccontextmanager
async def running_daemon(url: str, extra: str = "") -> AsyncIterator[Daemon]:
    async with serving(Daemon(parse_config(config_text(url, extra)))) as daemon:
        yield daemon


@asynccontextmanager
async def serving(daemon: Daemon) -> AsyncIterator[Daemon]:
    """``daemon`` opened and running until the block ends (then a clean stop)."""
    await daemon.open()
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(daemon.run())
        try:
            yield daemon
        finally:
            daemon.stopping.set()
            await task
