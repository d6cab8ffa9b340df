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

from cti.asterisk.ami import AmiDecoder, Message
from cti.asterisk.calls import CallTracker
from cti.asterisk.connection import AmiConnection
from cti.bus.commands import (
    WHITELIST,
    CommandService,
    LocalServer,
    OwnerSeat,
    RemoteError,
    RemoteServers,
    sign,
)
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


def desk_actions(ami: FakeAmi) -> list[Message]:
    """What reached the PBX besides the connection's own Login, status and Logoff."""
    return [
        a for _, a in ami.actions if a.get("Action") in WHITELIST.values() or a.get("Action") == "Redirect"
    ]


def actions_named(ami: FakeAmi, name: str) -> list[dict[str, str]]:
    return [dict(a.headers) for _, a in ami.actions if (a.get("Action") or "").lower() == name.lower()]


@pytest.fixture
async def pbx() -> AsyncIterator[FakeAmi]:
    async with FakeAmi(auth_fail_delay=0.05) as server:
        for name in ("hangup", "queuepause", "blindtransfer", "redirect", "originate"):
            server.handlers[name] = lambda c, a: [{"Response": "Success", "Message": "Done"}]
        yield server


KEY = b"0123456789abcdef-test"
ALICE = AgentId("Alice")
# the owner's view: calls (linkedid -> {agent: agent's channel}), callers (linkedid -> caller's channel)
CALLS = {f"1.{n}": {ALICE: f"Local/1001@agents-{n:08x};1"} for n in range(10)} | {
    "2.1": {AgentId("Bob"): "B"}
}
CALLERS = {lid: f"PJSIP/trunk-{lid}" for lid in CALLS}


def local_server(conn: AmiConnection) -> LocalServer:
    return LocalServer(
        send_action=conn.send_action,
        agent_channel=lambda lid, agent: CALLS.get(lid, {}).get(agent),
        caller_channel=lambda lid: CALLERS.get(lid),
        on_call=lambda lid, agent: agent in CALLS.get(lid, {}),
        seat=lambda agent: OwnerSeat("Local/1001@agents/n", ("sales",), "1001") if agent == ALICE else None,
    )


async def owner_of(url: str, pbx: FakeAmi, instance: str = "a") -> tuple[AmiConnection, CommandService]:
    conn = AmiConnection(config(pbx))
    return conn, CommandService(url, instance, {"pbx1": local_server(conn)}, key=KEY, prefix="t")


def requester(url: str, seconds: float = 3.0, key: bytes = KEY) -> RemoteServers:
    return RemoteServers(url, "b", key=key, prefix="t", timeout=timeout(seconds) if seconds >= 1 else seconds)


@contextlib.asynccontextmanager
async def serving(url: str, pbx: FakeAmi) -> AsyncIterator[tuple[CommandService, RemoteServers]]:
    """Instance a connected to ``pbx`` and serving it; instance b's requester."""
    conn, service = await owner_of(url, pbx)
    remote = requester(url)
    try:
        async with background(conn.run(), service.run()):
            await take_until(conn, is_snapshot("login"))
            await asyncio.wait_for(service.ready.wait(), timeout(3))
            yield service, remote
    finally:
        await remote.close()


def hangup_of(lid: str) -> tuple[str, dict[str, Any]]:
    return "hangup", {"linkedid": lid, "agent": ALICE}


async def test_a_hangup_from_b_is_built_and_sent_once_by_the_instance_connected_to_the_pbx(
    redis_url: str, pbx: FakeAmi
) -> None:
    async with serving(redis_url, pbx) as (service, remote):
        assert await remote.owner("pbx1") == "a"
        reply = await remote.link("pbx1").request(*hangup_of("1.1"))
        assert (reply.get("Response"), reply.get("Message")) == ("Success", "Done")
        # the channel is the owner's: the request named only the call and the agent
        assert [a["Channel"] for a in actions_named(pbx, "Hangup")] == [CALLS["1.1"][ALICE]]
        assert service.done == 1 and remote.sent == 1


async def test_each_desk_request_becomes_the_whitelisted_action_built_from_the_owners_state(
    redis_url: str, pbx: FakeAmi
) -> None:
    async with serving(redis_url, pbx) as (_, remote):
        link = remote.link("pbx1")
        await link.request("pause", {"agent": ALICE, "reason": "lunch"})
        await link.request("ready", {"agent": ALICE})
        await link.request(
            "transfer", {"linkedid": "1.2", "agent": ALICE, "to": "queue", "target": "support"}
        )
        await link.request(
            "transfer", {"linkedid": "1.3", "agent": None, "to": "dial", "target": "4155550199"}
        )
        await link.request("originate", {"agent": ALICE, "number": "4155550100", "channel_id": "c-1"})
    sent = [{k: v for k, v in a.headers if k != "ActionID"} for a in desk_actions(pbx)]
    assert sent == [
        {"Action": "QueuePause", "Interface": "Local/1001@agents/n", "Paused": "true", "Reason": "lunch"},
        {"Action": "QueuePause", "Interface": "Local/1001@agents/n", "Paused": "false"},
        {"Action": "BlindTransfer", "Channel": CALLS["1.2"][ALICE], "Context": "inbound", "Exten": "support"},
        {"Action": "Redirect", "Channel": CALLERS["1.3"], "Context": "pstn", "Exten": "4155550199"}
        | {"Priority": "1"},
        {"Action": "Originate", "Channel": "Local/1001@agents/n", "Context": "pstn", "Exten": "4155550100"}
        | {"Priority": "1", "Async": "true", "Timeout": "30000", "CallerID": '"Alice" <4155550100>'}
        | {"ChannelId": "c-1"},
    ]


async def test_two_instances_on_one_pbx_carry_out_a_request_once(redis_url: str, pbx: FakeAmi) -> None:
    conn_a, service_a = await owner_of(redis_url, pbx, "a")
    conn_c, service_c = await owner_of(redis_url, pbx, "c")
    remote = requester(redis_url)
    try:
        async with background(conn_a.run(), service_a.run(), conn_c.run(), service_c.run()):
            await take_until(conn_a, is_snapshot("login"))
            await take_until(conn_c, is_snapshot("login"))
            await asyncio.wait_for(service_a.ready.wait(), timeout(3))
            await asyncio.wait_for(service_c.ready.wait(), timeout(3))
            for n in range(10):
                await remote.link("pbx1").request(*hangup_of(f"1.{n}"))
            assert sorted(a["Channel"] for a in actions_named(pbx, "Hangup")) == sorted(
                CALLS[f"1.{n}"][ALICE] for n in range(10)
            )
            assert service_a.done + service_c.done == 10
    finally:
        await remote.close()


async def test_no_instance_for_the_server_is_a_clear_error_at_once(redis_url: str) -> None:
    remote = requester(redis_url)
    try:
        started = time.monotonic()
        with pytest.raises(RemoteError) as e:
            await remote.link("pbx9").request(*hangup_of("1.1"))
        assert e.value.code == "no_owner" and "pbx9" in str(e.value)
        assert time.monotonic() - started < 1.0
    finally:
        await remote.close()


async def test_a_request_redis_refused_is_reported_not_sent_not_unknown_outcome() -> None:
    """Issue 14: Redis refusing the connection means the request never left; the console says so."""
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = RemoteServers(f"redis://127.0.0.1:{port}/0", "b", key=KEY, prefix="t", timeout=timeout(3))
    try:
        with pytest.raises(RemoteError) as e:
            await remote.link("pbx1").request(*hangup_of("1.1"))
        assert e.value.code == "not_sent" and "not sent" in str(e.value)
        assert remote.sent == 0
        desk = Desk(Hub(board=LiveBoard(lambda q: 20.0)), remote.link, remote, FakeStore.demo())
        with pytest.raises(DeskError) as refused:
            await desk._ami("pbx1", {"Action": "Hangup", "Channel": "PJSIP/x"}, hangup_of("1.1"))
        assert refused.value.code == "not_sent"
    finally:
        await remote.close()


async def test_a_request_nobody_took_in_time_is_reported_unknown_and_never_carried_out_late(
    redis_url: str, pbx: FakeAmi
) -> None:
    conn, service = await owner_of(redis_url, pbx)
    client = aioredis.from_url(redis_url)
    remote = requester(redis_url, 0.3)
    try:
        await client.set("t:owner:pbx1", "a", px=5000)  # an owner that stalls: alive but not serving
        with pytest.raises(RemoteError) as e:
            await remote.link("pbx1").request(*hangup_of("1.1"))
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
        reply = await remote.link("pbx1").request(*hangup_of("1.1"))
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
                json.dumps({"id": "../../x", "op": "hangup", "server": "pbx1", "deadline": 1e12}).encode(),
            ):
                await client.rpush("t:cmd:pbx1", junk)
            reply = await remote.link("pbx1").request(*hangup_of("1.1"))
            assert reply.get("Response") == "Success"
            assert service.bad == 4
    finally:
        await client.aclose()


# ---- what write access to Redis alone gets: nothing ---------------------------------------------------


async def pushed_then_refused(
    client: aioredis.Redis, service: CommandService, request: dict[str, Any], reason: str
) -> None:
    """Push ``request`` as an attacker would; wait until the owner has refused it for ``reason``."""
    before = service.refused.get(reason, 0)
    await client.rpush("t:cmd:pbx1", json.dumps(request))
    await eventually(lambda: service.refused.get(reason, 0) > before, what=f"refused: {reason}")


def forged(remote: RemoteServers, op: str, args: dict[str, Any], **changes: Any) -> dict[str, Any]:
    request = remote.request("pbx1", op, args)
    request.update(changes)
    return request


async def test_an_unsigned_or_wrongly_signed_request_is_refused_and_nothing_is_sent(
    redis_url: str, pbx: FakeAmi
) -> None:
    client = aioredis.from_url(redis_url)
    outsider = requester(redis_url, key=b"not-the-shared-key-at-all")
    try:
        async with serving(redis_url, pbx) as (service, remote):
            unsigned = remote.request("pbx1", *hangup_of("1.1"))
            del unsigned["sig"]
            await pushed_then_refused(client, service, unsigned, "no_signature")
            await pushed_then_refused(
                client, service, outsider.request("pbx1", *hangup_of("1.1")), "wrong_signature"
            )
            # a signed request whose content was changed afterwards
            tampered = forged(remote, *hangup_of("1.1"))
            tampered["args"] = {"linkedid": "2.1", "agent": "Bob"}
            await pushed_then_refused(client, service, tampered, "wrong_signature")
            assert actions_named(pbx, "Hangup") == [] and service.done == 0
            assert await client.keys("t:reply:*") == []  # no reply written anywhere for them
            with pytest.raises(RemoteError) as e:  # and the requester with the wrong key hears nothing
                await (
                    requester(redis_url, 0.3, key=b"not-the-shared-key-at-all")
                    .link("pbx1")
                    .request(*hangup_of("1.1"))
                )
            assert e.value.code == "unknown_outcome"
    finally:
        await outsider.close()
        await client.aclose()


async def test_a_replayed_request_or_a_far_deadline_is_refused(redis_url: str, pbx: FakeAmi) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async with serving(redis_url, pbx) as (service, remote):
            request = remote.request("pbx1", *hangup_of("1.1"))
            await client.rpush("t:cmd:pbx1", json.dumps(request))
            await eventually(lambda: service.done == 1, what="the original carried out")
            await pushed_then_refused(client, service, request, "replay")  # the same entry pushed again
            far = forged(remote, *hangup_of("1.2"), deadline=time.time() + 3600)
            far["sig"] = sign(KEY, far)
            await pushed_then_refused(client, service, far, "deadline")
            assert [a["Channel"] for a in actions_named(pbx, "Hangup")] == [CALLS["1.1"][ALICE]]
    finally:
        await client.aclose()


async def test_an_op_outside_the_whitelist_is_refused(redis_url: str, pbx: FakeAmi) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async with serving(redis_url, pbx) as (service, remote):
            # the old channel's op: a raw AMI action named by the requester
            raw = forged(remote, "hangup", {})
            raw.update(op="action", args={"action": {"Action": "Command", "Command": "core stop now"}})
            raw["sig"] = sign(KEY, raw)
            await client.rpush("t:cmd:pbx1", json.dumps(raw))
            await eventually(lambda: service.bad == 1, what="the raw action refused")
            with pytest.raises(RemoteError) as e:  # a field smuggling a second AMI header
                await remote.link("pbx1").request("pause", {"agent": ALICE, "reason": "x\r\nAction: Command"})
            assert e.value.code == "bad_field"
            with pytest.raises(RemoteError) as e:
                await remote.link("pbx1").request(
                    "transfer", {"linkedid": "1.1", "agent": ALICE} | {"to": "app"}
                )
            assert e.value.code == "bad_field"
            assert desk_actions(pbx) == []
            assert set(WHITELIST.values()) == {
                None,
                "QueuePause",
                "QueueAdd",
                "QueueRemove",
                "Hangup",
                "BlindTransfer",
                "Originate",
                "Redirect",  # CTI hold (a dual Redirect to the holding contexts), conferences
                "Bridge",
                "Park",
                "Atxfer",  # warm transfers and conferences (tests/bus/test_consult_commands.py)
                "ConfbridgeKick",
            }
    finally:
        await client.aclose()


async def test_a_request_for_someone_elses_call_is_refused(redis_url: str, pbx: FakeAmi) -> None:
    async with serving(redis_url, pbx) as (service, remote):
        link = remote.link("pbx1")
        for op, args in (
            ("hangup", {"linkedid": "2.1", "agent": ALICE}),  # Bob's call
            ("transfer", {"linkedid": "2.1", "agent": ALICE, "to": "dial", "target": "4155550199"}),
            ("hangup", {"linkedid": "9.9", "agent": ALICE}),  # no such call on the owner
        ):
            with pytest.raises(RemoteError) as e:
                await link.request(op, args)
            assert e.value.code == "not_your_call", (op, args)
        with pytest.raises(RemoteError) as e:  # an agent with no seat on this server
            await link.request("pause", {"agent": "Mallory", "reason": "x"})
        assert e.value.code == "unknown_agent"
        with pytest.raises(RemoteError) as e:  # a queue the agent is not a member of
            await link.request("queue_remove", {"agent": ALICE, "queue": "vip"})
        assert e.value.code == "not_member"
        assert desk_actions(pbx) == []
        assert service.refused == {"not_your_call": 3, "unknown_agent": 1, "not_member": 1}


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
    service = CommandService(redis_url, "a", {"pbx1": local}, key=KEY, prefix="t")
    remote = requester(redis_url)
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
