"""Commands across instances over the real Redis: instance B's console acts on instance A's Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from cti.asterisk.ami import AmiDecoder
from cti.asterisk.calls import CallTracker
from cti.asterisk.connection import AmiConnection
from cti.bus.commands import CommandService, LocalServer, RemoteError, RemoteServers
from cti.core.events import CallAnswered
from cti.core.ids import AgentId
from cti.screenpop.actions import Desk, DeskError
from cti.screenpop.channels import TrackerChannels
from cti.screenpop.hub import Hub
from cti.screenpop.live import LiveBoard
from tests.asterisk.fakeami import FakeAmi
from tests.asterisk.test_connection import config, is_snapshot, take_until
from tests.conftest import timeout
from tests.screenpop.fakes import FakeStore
from tests.waiting import eventually

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def background(*coros: Coroutine[Any, Any, object]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def actions_named(ami: FakeAmi, name: str) -> list[dict[str, str]]:
    return [dict(a.headers) for _, a in ami.actions if (a.get("Action") or "").lower() == name.lower()]


@pytest.fixture
async def pbx() -> AsyncIterator[FakeAmi]:
    async with FakeAmi(auth_fail_delay=0.05) as server:
        server.handlers["hangup"] = lambda c, a: [{"Response": "Success", "Message": "Channel Hungup"}]
        yield server


async def owner_of(
    url: str, pbx: FakeAmi, instance: str = "a", **channels: str
) -> tuple[AmiConnection, CommandService]:
    conn = AmiConnection(config(pbx))
    local = LocalServer(
        send_action=conn.send_action,
        agent_channel=lambda lid, agent: channels.get(f"{lid}/{agent}"),
        caller_channel=lambda lid: channels.get(lid),
    )
    return conn, CommandService(url, instance, {"pbx1": local}, prefix="t")


@contextlib.asynccontextmanager
async def serving(url: str, pbx: FakeAmi) -> AsyncIterator[tuple[CommandService, RemoteServers]]:
    """Instance a connected to ``pbx`` and serving it; instance b's requester."""
    conn, service = await owner_of(url, pbx)
    remote = RemoteServers(url, "b", prefix="t", timeout=timeout(3))
    try:
        async with background(conn.run(), service.run()):
            await take_until(conn, is_snapshot("login"))
            await asyncio.wait_for(service.ready.wait(), timeout(3))
            yield service, remote
    finally:
        await remote.close()


async def test_an_action_from_b_is_sent_once_by_the_instance_connected_to_the_pbx(
    redis_url: str, pbx: FakeAmi
) -> None:
    async with serving(redis_url, pbx) as (service, remote):
        assert await remote.owner("pbx1") == "a"
        reply = await remote.link("pbx1").send_action({"Action": "Hangup", "Channel": "PJSIP/1001-00000001"})
        assert (reply.get("Response"), reply.get("Message")) == ("Success", "Channel Hungup")
        assert [a["Channel"] for a in actions_named(pbx, "Hangup")] == ["PJSIP/1001-00000001"]
        assert service.done == 1 and remote.sent == 1


async def test_two_instances_on_one_pbx_carry_out_a_request_once(redis_url: str, pbx: FakeAmi) -> None:
    conn_a, service_a = await owner_of(redis_url, pbx, "a")
    conn_c, service_c = await owner_of(redis_url, pbx, "c")
    remote = RemoteServers(redis_url, "b", prefix="t", timeout=timeout(3))
    try:
        async with background(conn_a.run(), service_a.run(), conn_c.run(), service_c.run()):
            await take_until(conn_a, is_snapshot("login"))
            await take_until(conn_c, is_snapshot("login"))
            await asyncio.wait_for(service_a.ready.wait(), timeout(3))
            await asyncio.wait_for(service_c.ready.wait(), timeout(3))
            for n in range(10):
                await remote.link("pbx1").send_action({"Action": "Hangup", "Channel": f"PJSIP/1001-{n}"})
            assert sorted(a["Channel"] for a in actions_named(pbx, "Hangup")) == sorted(
                f"PJSIP/1001-{n}" for n in range(10)
            )
            assert service_a.done + service_c.done == 10
    finally:
        await remote.close()


async def test_no_instance_for_the_server_is_a_clear_error_at_once(redis_url: str) -> None:
    remote = RemoteServers(redis_url, "b", prefix="t", timeout=timeout(3))
    try:
        started = time.monotonic()
        with pytest.raises(RemoteError) as e:
            await remote.link("pbx9").send_action({"Action": "Hangup", "Channel": "x"})
        assert e.value.code == "no_owner" and "pbx9" in str(e.value)
        assert time.monotonic() - started < 1.0
    finally:
        await remote.close()


async def test_a_request_redis_refused_is_reported_not_sent_not_unknown_outcome() -> None:
    """Issue 14: Redis refusing the connection means the request never left; the console says so."""
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = RemoteServers(f"redis://127.0.0.1:{port}/0", "b", prefix="t", timeout=timeout(3))
    try:
        with pytest.raises(RemoteError) as e:
            await remote.link("pbx1").send_action({"Action": "Hangup", "Channel": "PJSIP/x"})
        assert e.value.code == "not_sent" and "not sent" in str(e.value)
        assert remote.sent == 0
        desk = Desk(Hub(board=LiveBoard(lambda q: 20.0)), remote.link, remote, FakeStore.demo())
        with pytest.raises(DeskError) as refused:
            await desk._ami("pbx1", {"Action": "Hangup", "Channel": "PJSIP/x"})
        assert refused.value.code == "not_sent"
    finally:
        await remote.close()


async def test_a_request_nobody_took_in_time_is_reported_unknown_and_never_carried_out_late(
    redis_url: str, pbx: FakeAmi
) -> None:
    conn, service = await owner_of(redis_url, pbx)
    client = aioredis.from_url(redis_url)
    remote = RemoteServers(redis_url, "b", prefix="t", timeout=0.3)
    try:
        await client.set("t:owner:pbx1", "a", px=5000)  # an owner that stalls: alive but not serving
        with pytest.raises(RemoteError) as e:
            await remote.link("pbx1").send_action({"Action": "Hangup", "Channel": "PJSIP/late"})
        assert e.value.code == "unknown_outcome"
        async with background(conn.run(), service.run()):  # the owner comes back and finds the request
            await take_until(conn, is_snapshot("login"))
            await eventually(lambda: service.expired == 1, what="the stale request dropped")
        assert service.expired == 1 and actions_named(pbx, "Hangup") == []  # dropped, not sent late
    finally:
        await remote.close()
        await client.aclose()


async def test_asterisk_refusing_is_returned_to_the_requester(redis_url: str, pbx: FakeAmi) -> None:
    pbx.handlers["hangup"] = lambda c, a: [{"Response": "Error", "Message": "No such channel"}]
    async with serving(redis_url, pbx) as (_, remote):
        reply = await remote.link("pbx1").send_action({"Action": "Hangup", "Channel": "gone"})
        assert (reply.get("Response"), reply.get("Message")) == ("Error", "No such channel")


async def test_bad_requests_on_the_list_are_counted_and_do_not_stop_the_owner(
    redis_url: str, pbx: FakeAmi
) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async with serving(redis_url, pbx) as (service, remote):
            for junk in (
                b"\xff\xfe",
                b"{}",
                json.dumps({"id": 1, "op": "rm -rf", "server": "pbx1"}).encode(),
            ):
                await client.rpush("t:cmd:pbx1", junk)
            reply = await remote.link("pbx1").send_action({"Action": "Hangup", "Channel": "PJSIP/ok"})
            assert reply.get("Response") == "Success"
            assert service.bad == 3
    finally:
        await client.aclose()


async def test_channel_names_come_from_the_owners_call_tracker(
    redis_url: str, pbx: FakeAmi, transcripts: Path
) -> None:
    tracker = CallTracker("pbx1")
    channels = TrackerChannels()
    channels.trackers["pbx1"] = tracker
    answered: list[CallAnswered] = []
    for msg in AmiDecoder().receive_data((transcripts / "01-inbound-answered.ami").read_bytes()):
        for event in tracker.feed(msg):
            if isinstance(event, CallAnswered) and event.agent is not None:
                answered.append(event)
        if answered:
            break
    assert answered, "the transcript has an answered call"
    call = answered[0]
    conn = AmiConnection(config(pbx))  # not running: channel names need no AMI round trip
    local = LocalServer(
        send_action=conn.send_action,
        agent_channel=lambda lid, agent: channels.local_agent_channel("pbx1", lid, agent),
        caller_channel=lambda lid: channels.local_caller_channel("pbx1", lid),
    )
    service = CommandService(redis_url, "a", {"pbx1": local}, prefix="t")
    remote = RemoteServers(redis_url, "b", prefix="t", timeout=timeout(3))
    elsewhere = TrackerChannels()
    elsewhere.remote = remote  # instance B: no tracker for pbx1, asks A
    try:
        async with background(service.run()):
            await asyncio.wait_for(service.ready.wait(), timeout(3))
            agent = AgentId(str(call.agent))
            here = channels.local_agent_channel("pbx1", call.linkedid, agent)
            assert here is not None and here.startswith("Local/100")
            assert await elsewhere.agent_channel("pbx1", call.linkedid, agent) == here
            assert await elsewhere.caller_channel("pbx1", call.linkedid) == channels.local_caller_channel(
                "pbx1", call.linkedid
            )
            assert await elsewhere.caller_channel("pbx1", "no-such-call") is None
    finally:
        await remote.close()
