"""An unmodified third-party client, panoramisk's Manager, works against the simulator as a user would.

panoramisk 1.4 has no MD5 login of its own, so the user does Challenge then Login with its
``send_action``; that is the documented way to send any action.
"""

from __future__ import annotations

import asyncio
import hashlib

from panoramisk import Manager
from panoramisk.message import Message as PMessage

from cti.sim.server import SimServer
from tests.conftest import timeout


async def test_panoramisk_md5_login_queue_status_originate_and_events(sim: SimServer) -> None:
    manager = Manager(host="127.0.0.1", port=sim.port, loop=asyncio.get_running_loop(), ping_delay=3600)
    events: list[PMessage] = []
    manager.register_event("*", lambda _m, e: events.append(e))
    await manager.connect()
    try:
        challenge = await manager.send_action({"Action": "Challenge", "AuthType": "MD5"})
        key = hashlib.md5((challenge["Challenge"] + "ctisecret").encode()).hexdigest()
        login = await manager.send_action(
            {"Action": "Login", "AuthType": "MD5", "Username": "cti", "Key": key, "Events": "on"}
        )
        assert login.success and login["Message"] == "Authentication accepted"

        status = await asyncio.wait_for(manager.send_action({"Action": "QueueStatus"}), timeout(5))
        assert isinstance(status, list)
        assert status[0]["EventList"] == "start"
        assert status[-1].event == "QueueStatusComplete"
        assert int(status[-1]["ListItems"]) == len(status) - 2
        assert {m["Name"] for m in status if m.event == "QueueMember"} >= {"Alice", "Bob", "Carol", "Dave"}

        originate = await asyncio.wait_for(
            manager.send_action(
                {
                    "Action": "Originate",
                    "Channel": "Local/13800138000@callers/n",
                    "Context": "inbound",
                    "Exten": "sales",
                    "Priority": "1",
                    "CallerID": '"张伟" <13800138000>',
                    "Async": "true",
                    "Variable": ["PATIENCE=30", "__TALK=3"],
                }
            ),
            timeout(5),
        )
        assert originate[0]["Message"] == "Originate successfully queued"
        assert originate[-1].event == "OriginateResponse"
        assert originate[-1]["Reason"] == "4" and originate[-1]["Response"] == "Success"

        sim.advance(6)  # the agent answers after 1 s, talks 3 s and hangs up
        deadline = asyncio.get_running_loop().time() + timeout(5)
        while not any(e.event == "AgentComplete" for e in events):
            assert asyncio.get_running_loop().time() < deadline, [e.event for e in events]
            await asyncio.sleep(0.02)
        names = [e.event for e in events]
        for expected in (
            "QueueCallerJoin",
            "AgentCalled",
            "AgentConnect",
            "BridgeEnter",
            "AgentComplete",
            "Hangup",
        ):
            assert expected in names
        assert names.index("QueueCallerJoin") < names.index("AgentConnect") < names.index("AgentComplete")
        connect = next(e for e in events if e.event == "AgentConnect")
        assert connect["CallerIDName"] == "张伟" and connect["MemberName"] == "Bob"
    finally:
        manager.close()
        manager.protocol.transport.close()
