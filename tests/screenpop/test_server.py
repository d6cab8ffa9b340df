import asyncio
import json
import urllib.request
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cti.core.clock import ManualClock
from cti.core.events import AgentState
from cti.screenpop.server import Limits
from tests.bus.events import agent_state, inbound_call
from tests.conftest import timeout
from tests.screenpop.console import login, recv, recv_until, running_console
from tests.screenpop.fakes import FakeStore


def is_pop(m: dict[str, Any]) -> bool:
    return bool(m["type"] == "screenpop")


async def test_a_logged_in_agent_gets_the_pop_with_the_customer_before_the_answer() -> None:
    async with running_console() as console:
        ws, welcome = await login(console, "alice")
        assert welcome["role"] == "agent" and welcome["agent"] == "Alice" and welcome["token"]
        console.hub.on_events(inbound_call(agent="Alice"))
        pop = await recv_until(ws, lambda m: m["type"] in ("screenpop", "call"))
        assert pop["type"] == "screenpop"
        assert pop["customers"][0]["name"] == "Jane Roe"
        answered = await recv_until(ws, lambda m: m["type"] == "call")
        assert answered["event"] == "answered" and answered["seq"] > pop["seq"]
        await ws.close()


async def test_wrong_password_and_unknown_user_are_refused_and_closed() -> None:
    async with running_console() as console:
        for user, password in (("alice", "nope"), ("mallory", "demo")):
            ws = await connect(console.ws_url)
            await ws.send(json.dumps({"type": "login", "username": user, "password": password}))
            err = await recv(ws)
            assert err == {"type": "error", "code": "auth_failed", "message": "wrong user name or password"}
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
        assert console.server.logins_failed == 2


async def test_a_login_while_the_store_is_down_gets_a_clear_error_not_an_internal_error() -> None:
    store = FakeStore.demo()
    store.down = True
    async with running_console(store=store) as console:
        ws = await connect(console.ws_url)
        await ws.send(json.dumps({"type": "login", "username": "alice", "password": "demo", "ref": 3}))
        err = await recv(ws)
        assert err["type"] == "error" and err["code"] == "store_unavailable" and err["ref"] == 3
        assert "unavailable" in err["message"]
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013  # try again later, not 1011
        assert console.server.logins_unavailable == 1 and console.server.logins_failed == 0
        store.down = False  # back: the same login works
        alice = await connect(console.ws_url)
        await alice.send(json.dumps({"type": "login", "username": "alice", "password": "demo"}))
        assert (await recv(alice))["type"] == "welcome"
        await alice.close()


@pytest.mark.parametrize(
    "first",
    [
        {"type": "resume", "token": "abc.def"},
        {"type": "hangup", "linkedid": "1.1"},
        {"type": "ping"},
    ],
)
async def test_a_connection_must_authenticate_before_anything_else(first: dict[str, Any]) -> None:
    async with running_console() as console:
        ws = await connect(console.ws_url)
        await ws.send(json.dumps(first))
        err = await recv(ws)
        assert err["type"] == "error" and err["code"] in ("auth_failed", "auth_required")
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_a_forged_or_expired_token_is_refused() -> None:
    async with running_console() as console:
        token, _ = console.signer.issue("alice", "agent", "Alice", now=0.0)  # type: ignore[arg-type]
        ws = await connect(console.ws_url)
        await ws.send(json.dumps({"type": "resume", "token": token}))
        assert (await recv(ws))["message"] == "token expired"
        ws = await connect(console.ws_url)
        forged = token.split(".")[0] + ".AAAA"
        await ws.send(json.dumps({"type": "resume", "token": forged}))
        assert (await recv(ws))["message"] == "token forged"


async def test_a_connection_is_closed_when_its_token_expires() -> None:
    clock = ManualClock(1_800_000_000.0)
    async with running_console(ttl=60, clock=clock) as console:
        alice, welcome = await login(console, "alice")
        clock.advance(60)
        await alice.send(json.dumps({"type": "ready", "ref": "r"}))
        with pytest.raises(ConnectionClosed) as closed:
            await recv(alice)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4002
        assert "expired" in closed.value.rcvd.reason
        ws = await connect(console.ws_url)
        await ws.send(json.dumps({"type": "resume", "token": welcome["token"]}))
        assert (await recv(ws))["message"] == "token expired"


async def test_an_agent_never_receives_another_agents_pops_or_call_updates() -> None:
    async with running_console() as console:
        alice, _ = await login(console, "alice")
        bob, _ = await login(console, "bob")
        sup, _ = await login(console, "super")
        console.hub.on_events(inbound_call("9.9", agent="Bob"))
        await recv_until(sup, lambda m: m.get("event") == "ended")
        await recv_until(bob, lambda m: m.get("event") == "ended")
        await alice.send(json.dumps({"type": "ping", "ref": "p"}))
        pong = await recv(alice)  # nothing about Bob's call was queued before the pong
        assert pong["type"] == "pong"


async def test_an_agent_cannot_act_on_another_agents_call_nor_for_another_agent() -> None:
    async with running_console() as console:
        console.hub.on_events([agent_state("Bob", AgentState.AVAILABLE)])
        console.hub.on_events(inbound_call("9.9", agent="Bob")[:4])
        console.channels.agent_channels[("9.9", "Bob")] = "Local/1002@agents-00000001;1"
        alice, _ = await login(console, "alice")
        for cmd in (
            {"type": "hangup", "linkedid": "9.9"},
            {"type": "transfer", "linkedid": "9.9", "to": "queue", "target": "sales"},
            {"type": "disposition", "linkedid": "9.9", "disposition": "sale", "notes": "x"},
            {"type": "pause", "reason": "lunch", "agent": "Bob"},
        ):
            await alice.send(json.dumps({"ref": "x", **cmd}))
            err = await recv_until(alice, lambda m: m.get("ref") == "x")
            assert err["type"] == "error" and err["code"] == "forbidden", err
        assert console.link.sent == [] and console.store.dispositions == []
        bob, _ = await login(console, "bob")
        await bob.send(json.dumps({"type": "hangup", "linkedid": "9.9", "ref": 1}))
        ok = await recv_until(bob, lambda m: m.get("ref") == 1)
        assert ok["type"] == "result" and ok["ok"] and type(ok["ref"]) is int  # echoed as sent, not "1"
        assert console.link.sent == [{"Action": "Hangup", "Channel": "Local/1002@agents-00000001;1"}]


async def test_disposition_and_notes_reach_the_store() -> None:
    async with running_console() as console:
        alice, _ = await login(console, "alice")
        console.hub.on_events(inbound_call("5.5", agent="Alice"))
        await recv_until(alice, lambda m: m.get("event") == "ended")
        notes = "called about order 42\nwants a refund <b>now</b>"
        await alice.send(
            json.dumps(
                {
                    "type": "disposition",
                    "linkedid": "5.5",
                    "disposition": "complaint",
                    "notes": notes,
                    "ref": "d",
                }
            )
        )
        reply = await recv_until(alice, lambda m: m.get("ref") == "d")
        assert reply["type"] == "result"
        assert console.store.dispositions == [("5.5", "Alice", "complaint", notes)]
        assert console.store.disposition_servers == ["pbx1"]  # the call's server: Linkedids are per server


async def test_malformed_messages_get_clear_errors_and_the_connection_stays_usable() -> None:
    async with running_console() as console:
        alice, _ = await login(console, "alice")
        bob, _ = await login(console, "bob")
        for bad, code in (
            ("{not json", "bad_json"),
            ("[1,2]", "bad_json"),
            ('{"type": "teleport"}', "unknown_type"),
            ('{"type": "dial", "number": "1234; Hangup"}', "bad_field"),
            ('{"type": "pause", "reason": "x\\r\\nAction: Originate"}', "bad_field"),
            (b"\x00\x01binary", "bad_json"),
        ):
            await alice.send(bad)
            err = await recv(alice)
            assert err["type"] == "error" and err["code"] == code, (bad, err)
        await bob.send(json.dumps({"type": "ping", "ref": 1}))
        assert (await recv(bob))["type"] == "pong"
        await alice.send(json.dumps({"type": "ping", "ref": 2}))
        assert (await recv(alice))["type"] == "pong"


async def test_an_oversized_message_closes_only_that_connection() -> None:
    async with running_console(Limits(max_message_bytes=1024, failed_login_delay=0.01)) as console:
        alice, _ = await login(console, "alice")
        bob, _ = await login(console, "bob")
        await alice.send(
            json.dumps({"type": "disposition", "linkedid": "1", "disposition": "x", "notes": "a" * 5000})
        )
        with pytest.raises(ConnectionClosed) as closed:
            await recv(alice)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await bob.send(json.dumps({"type": "ping"}))
        assert (await recv(bob))["type"] == "pong"


async def test_a_flood_is_rate_limited_then_disconnected_while_others_are_served() -> None:
    limits = Limits(rate=5, burst=5, flood_after=50, failed_login_delay=0.01)
    async with running_console(limits) as console:
        alice, _ = await login(console, "alice")
        bob, _ = await login(console, "bob")
        for _ in range(200):
            await alice.send(json.dumps({"type": "ping"}))
        kinds: list[str] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                kinds.append((await recv(alice))["type"])
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4029
        assert "flood" in closed.value.rcvd.reason
        assert kinds.count("pong") <= 6 and "error" in kinds
        await bob.send(json.dumps({"type": "ping"}))
        assert (await recv(bob))["type"] == "pong"


async def test_a_client_that_stops_reading_is_dropped_without_delaying_others() -> None:
    limits = Limits(client_buffer=20, failed_login_delay=0.01, close_timeout=0.2)
    async with running_console(limits) as console:
        stuck, _ = await login(console, "super")
        stuck.transport.pause_reading()
        reader, _ = await login(console, "super")
        big = "x" * 20000
        for i in range(300):
            console.hub.on_events(inbound_call(f"{i}.1", name=big))
            # the reader keeps up: it gets each call's end while the stuck client falls behind
            await recv_until(
                reader, lambda m, lid=f"{i}.1": m.get("event") == "ended" and m["linkedid"] == lid
            )
            if console.hub.clients_dropped:
                break
        assert console.hub.clients_dropped == 1
        assert console.hub.client_count == 1
        console.hub.on_events(inbound_call("last.1"))
        await recv_until(reader, lambda m: m.get("event") == "ended" and m["linkedid"] == "last.1")


async def test_a_reconnecting_client_resumes_with_exactly_what_it_missed() -> None:
    async with running_console() as console:
        alice, welcome = await login(console, "alice")
        console.hub.on_events(inbound_call("1.1", agent="Alice"))
        last = (await recv_until(alice, lambda m: m.get("event") == "ended"))["seq"]
        await alice.close()
        console.hub.on_events(inbound_call("2.2", agent="Alice"))
        console.hub.on_events(inbound_call("3.3", agent="Bob"))
        ws = await connect(console.ws_url)
        await ws.send(
            json.dumps(
                {"type": "resume", "token": welcome["token"], "session": welcome["session"], "last_seq": last}
            )
        )
        hello = await recv(ws)
        assert hello["type"] == "welcome" and hello["resumed"] is True
        got = [await recv(ws) for _ in range(hello["missed"])]
        ids = {m.get("linkedid") or m.get("call", {}).get("linkedid") for m in got}
        assert ids == {"2.2"}
        assert next(m["type"] for m in got) == "screenpop"
        # a resume from another session gets a fresh snapshot instead
        ws2 = await connect(console.ws_url)
        await ws2.send(
            json.dumps({"type": "resume", "token": welcome["token"], "session": "old", "last_seq": 3})
        )
        hello2 = await recv(ws2)
        assert hello2["resumed"] is False and (await recv(ws2))["type"] == "snapshot"


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout(5)) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


async def test_the_http_side_serves_consoles_static_files_health_and_metrics() -> None:
    async with running_console() as console:
        base = f"http://127.0.0.1:{console.server.port}"
        status, headers, body = await asyncio.to_thread(_get, base + "/agent")
        assert status == 200 and b"console.js" in body
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        status, _, body = await asyncio.to_thread(_get, base + "/supervisor")
        assert status == 200 and b"supervisor.js" in body
        status, headers, _ = await asyncio.to_thread(_get, base + "/static/agent.js")
        assert status == 200 and headers["Content-Type"].startswith("text/javascript")
        for missing in ("/static/../server.py", "/static/nope.js", "/etc/passwd"):
            assert (await asyncio.to_thread(_get, base + missing))[0] == 404
        status, _, body = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, headers, _ = await asyncio.to_thread(_get, base + "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
