"""What a reconnect storm costs the garbage collector (issue #15: no event-loop stall over 50 ms).

A full pass of CPython's collector visits every entry of every tracked container. Before the fix the
catch-up of a resuming console was queued message by message: 500 resuming agents put 200,000 entries
in their outboxes, and the storm's allocations ran full passes of 40-55 ms over them and over the
~35,000 objects of start-up. Now a catch-up is one block the collector stops tracking, start-up
objects are frozen and the thresholds keep a storm's allocations from running a full pass
(``cti.gctune``). These tests count what the collector would visit, not milliseconds: deterministic on
a loaded machine. The pauses themselves are measured by ``python -m benchmarks pop`` (``gc_*``)."""

from __future__ import annotations

import asyncio
import collections
import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.asyncio.client import connect

from cti import gctune
from cti.core.ids import AgentId
from cti.screenpop.hub import Client, Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.server import Limits
from cti.screenpop.tokens import Identity
from tests.screenpop.console import login, recv, running_console

_FOLLOW = (dict, list, tuple, collections.deque, asyncio.Queue)


def visited_from(client: Client) -> int:
    """Entries a full pass visits in the tracked containers of ``client``'s outbox (its attributes, the
    queue and what they hold): what grows with the messages waiting if they are queued one by one."""
    seen: set[int] = set()
    todo: list[Any] = [vars(client)]
    visits = 0
    while todo:
        obj = todo.pop()
        if id(obj) in seen or not gc.is_tracked(obj):
            continue
        seen.add(id(obj))
        referents = gc.get_referents(vars(obj) if isinstance(obj, asyncio.Queue) else obj)
        visits += len(referents)
        todo.extend(r for r in referents if isinstance(r, _FOLLOW))
    return visits


def busy_day(hub: Hub, agents: list[AgentId], per_agent: int) -> int:
    """Messages for each agent in the resume log; the last sequence number before them."""
    before = hub.seq
    for n in range(per_agent):
        for agent in agents:
            hub._emit({"type": "call", "event": "held", "linkedid": f"{n}.1"}, (agent,))
    return before


def test_the_catch_up_of_500_resuming_agents_is_not_queued_message_by_message() -> None:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    agents = [AgentId(f"A{i}") for i in range(500)]
    last = busy_day(hub, agents, 300)  # 150,000 messages: 300 missed by each agent
    clients = []
    for agent in agents:
        ident = Identity(agent.lower(), "agent", agent, 1e12)
        client = Client(ident, 1000)
        missed = hub.missed(ident, hub.session, last, 998)
        assert missed is not None and len(missed) == 300
        client.start(['{"type": "welcome"}', *missed])
        clients.append(client)
    gc.collect()  # what the collector sees after the first pass over the new blocks
    assert sum(c.waiting for c in clients) == 500 * 301
    visits = [visited_from(c) for c in clients]
    # a handful of attributes per client, whatever the catch-up's length (queued one by one: 301+ each)
    assert max(visits) < 40, max(visits)


def test_live_messages_queue_behind_the_first_block_and_count_against_the_same_bounds() -> None:
    client = Client(Identity("a", "agent", AgentId("A"), 1e12), buffer=5, max_chars=1000)
    client.start(["w", "m1", "m2"])
    assert client.offer("live1") and client.offer("live2")
    assert not client.offer("live3") and client.closing is not None  # 5 waiting: the buffer is full
    got = [client.take_waiting()]
    assert got == [["w", "m1", "m2", "live1", "live2"]] and client.chars == 0 and client.waiting == 0


async def test_a_resume_over_the_socket_keeps_its_catch_up_in_one_untracked_block() -> None:
    # one backlogged message a turn: most of the catch-up is still waiting when it is looked at
    async with running_console(Limits(failed_login_delay=0.01, sends_per_turn=1)) as console:
        alice, welcome = await login(console, "alice")
        await alice.close()
        last = console.hub.seq
        busy_day(console.hub, [AgentId("Alice")], 600)
        ws = await connect(console.ws_url, max_queue=None)
        resume = {"type": "resume", "token": welcome["token"], "session": welcome["session"]}
        await ws.send(json.dumps({**resume, "last_seq": last}))
        hello = await recv(ws)
        assert hello["resumed"] is True and hello["missed"] == 600
        (client,) = console.hub.clients()
        gc.collect()
        assert client.waiting > 100, "the catch-up was sent before it could be looked at"
        assert visited_from(client) < 40
        got = [await recv(ws) for _ in range(600)]
        assert [m["seq"] for m in got] == list(range(last + 1, last + 601))
        await ws.close()


@contextmanager
def settled(thresholds: tuple[int, int, int]) -> Iterator[int]:
    """``gctune.settle`` for the test, undone after it (the rest of the session keeps its collector)."""
    before = gc.get_threshold()
    try:
        frozen = gctune.settle(thresholds)
        gc.collect()  # nothing left outside the frozen set: a full pass is decided by the counts alone
        yield frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def full_passes_while_allocating(n: int) -> int:
    """Full passes run while ``n`` long-lived tracked objects are made (a storm: ~180 a connection)."""
    full = [0]

    def count(phase: str, info: dict[str, int]) -> None:
        full[0] += phase == "stop" and info["generation"] == 2

    gc.callbacks.append(count)
    try:
        kept = [[i] for i in range(n)]
    finally:
        gc.callbacks.remove(count)
    del kept
    return full[0]


def test_start_up_objects_are_frozen_and_a_storms_allocations_run_no_full_pass() -> None:
    storm = 500 * 200  # tracked objects 500 reconnecting consoles add (benchmarks pop: 156-180 each)
    with settled(gctune.THRESHOLDS) as frozen:
        assert frozen > 1000  # every module, class and function loaded so far: no full pass visits them
        assert gc.get_threshold() == gctune.THRESHOLDS
        assert full_passes_while_allocating(storm) == 0
    with settled((700, 10, 10)):  # CPython's defaults: the same allocations run full passes
        assert full_passes_while_allocating(storm) >= 1
