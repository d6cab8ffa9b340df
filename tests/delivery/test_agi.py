"""FastAGI over real sockets: the dialplan's question answered, a late decision left to the fallback, and
requests that are not AGI refused without harming the next one (cti/delivery/agi.py)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping

import pytest

from cti.config import parse_config
from cti.delivery.agi import AgiServer, agi_quote
from cti.delivery.inbound import InboundDecider
from cti.routing.ewt import Estimate
from cti.routing.policy import SkillNeed
from tests.conftest import timeout

REQUEST = (
    "agi_network: yes\n"
    "agi_network_script: route\n"
    "agi_request: agi://127.0.0.1:4573/route\n"
    "agi_channel: PJSIP/trunk-00000001\n"
    "agi_uniqueid: 1700000000.1\n"
    "agi_callerid: {number}\n"
    "agi_dnid: {did}\n"
    "agi_extension: {did}\n"
    "agi_arg_1: {did}\n"
    "agi_arg_2: {choice}\n"
    "\n"
)


async def ask(port: int, payload: bytes) -> tuple[dict[str, str], bool]:
    """Asterisk's side of one FastAGI call: send the request, answer every command '200 result=1'.
    Returns the variables cti set and whether cti closed the connection (AGISTATUS SUCCESS)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    variables: dict[str, str] = {}
    async with asyncio.timeout(timeout(10)):
        while line := await reader.readline():
            command = line.decode().rstrip("\n")
            assert command.startswith("SET VARIABLE "), command
            name, _, value = command.removeprefix("SET VARIABLE ").partition(" ")
            assert value.startswith('"') and value.endswith('"')
            variables[name] = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            writer.write(b"200 result=1\n")
            await writer.drain()
    closed = reader.at_eof()
    writer.close()
    return variables, closed


def request(did: str = "8005550300", number: str = "+33612345678", choice: str = "") -> bytes:
    return REQUEST.format(did=did, number=number, choice=choice).encode()


CONFIG = """
[routing.queues.sales]
[routing.queues.support]
[routing.queues.complaints]
[[routing.rules]]
name = "support line"
dids = ["8005550300"]
queue = "support"
priority = 5
skills = ["support:3", "lang_fr"]
[[routing.rules]]
name = "sales key"
choices = ["1"]
queue = "sales"
"""


@pytest.fixture
async def served() -> AsyncIterator[AgiServer]:
    cfg = parse_config(CONFIG)
    decider = InboundDecider(cfg.routing.ruleset("US"))
    server = AgiServer(decider.variables, port=0, deadline=0.3)
    task = asyncio.create_task(server.run())
    await server.ready.wait()
    yield server
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_route_is_answered_with_channel_variables(served: AgiServer) -> None:
    variables, closed = await ask(served.port, request())
    assert closed
    assert variables["CTI_QUEUE"] == "support"
    assert variables["CTI_PRIORITY"] == "5"
    assert variables["CTI_SKILLS"] == "support:3,lang_fr:1"
    assert variables["CTI_RULE"] == "support line"
    assert variables["CTI_CLOSED"] == ""
    assert served.app is not None and served.app.served == 1


async def test_the_ivr_choice_is_the_second_argument(served: AgiServer) -> None:
    variables, _ = await ask(served.port, request(did="8005550999", choice="1"))
    assert (variables["CTI_QUEUE"], variables["CTI_RULE"]) == ("sales", "sales key")


async def test_no_rule_and_no_default_sets_an_empty_queue_for_the_fallback(served: AgiServer) -> None:
    variables, _ = await ask(served.port, request(did="8005550999"))
    assert variables["CTI_QUEUE"] == ""


async def test_a_decision_past_the_deadline_sets_nothing_and_closes_for_the_fallback() -> None:
    never = asyncio.Event()  # a CRM look-up that never answers

    async def slow(did: str, number: str, choice: str) -> Mapping[str, str]:
        await never.wait()
        return {"CTI_QUEUE": "sales"}

    server = AgiServer(slow, port=0, deadline=0.05)
    task = asyncio.create_task(server.run())
    await server.ready.wait()
    try:
        variables, closed = await ask(server.port, request())
        assert variables == {} and closed  # the dialplan sees an empty CTI_QUEUE: Queue(default)
        assert server.late == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\nHost: cti\n\n",  # not AGI
        b"agi_network_script: route\nagi_callerid: \xff\xfe\n\n",  # not UTF-8
        b"agi_network_script: nosuchroute\n\n",  # no such route
        b"agi_network_script: route\nagi_callerid: 123",  # closed before the blank line (panoramisk spins)
        b"agi_x: " + b"a" * 70000 + b"\n\n",  # headers without bound
    ],
    ids=["http", "bad-utf8", "unknown-route", "eof-mid-headers", "too-long"],
)
async def test_a_malformed_request_is_refused_without_harming_the_next_one(
    served: AgiServer, payload: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(payload)
    await writer.drain()
    if payload.endswith(b"123"):
        writer.write_eof()
    async with asyncio.timeout(timeout(10)):
        assert await reader.read() == b""  # refused: closed without a command
    writer.close()
    assert served.app is not None and served.app.refused == 1
    variables, _ = await ask(served.port, request())
    assert variables["CTI_QUEUE"] == "support"


async def test_a_silent_connection_is_closed_after_the_header_timeout() -> None:
    async def decide(did: str, number: str, choice: str) -> Mapping[str, str]:
        return {}

    server = AgiServer(decide, port=0, header_timeout=0.05)
    task = asyncio.create_task(server.run())
    await server.ready.wait()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        async with asyncio.timeout(timeout(10)):
            assert await reader.read() == b""
        writer.close()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("sales", '"sales"'), ('a "b"', '"a \\"b\\""'), ("x\ny", '"x y"'), ("c:\\d", '"c:\\\\d"')],
)
def test_values_are_quoted_as_one_agi_argument(value: str, quoted: str) -> None:
    assert agi_quote(value) == quoted


class Waits:
    """The routing service's estimate, as the decider sees it (a fixed wait per queue)."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.asked: list[tuple[str | None, int]] = []

    def estimate(
        self,
        queue: str | None = None,
        needs: tuple[SkillNeed, ...] = (),
        *,
        call: str | None = None,
        priority: int = 0,
    ) -> Estimate:
        self.asked.append((queue, priority))
        return Estimate(self.seconds[queue or ""], 0.0, 1, 0, 180.0, math.inf)


async def test_the_answer_carries_the_estimated_wait_and_closed_hours() -> None:
    cfg = parse_config(
        CONFIG
        + """
[routing.schedules.never]
timezone = "Europe/Paris"
[[routing.rules]]
name = "night line"
dids = ["8005550500"]
queue = "sales"
schedule = "never"
closed = "callback"
"""
    )
    waits = Waits({"support": 95.4, "sales": math.inf})
    decider = InboundDecider(cfg.routing.ruleset("US"), estimator=waits)
    server = AgiServer(decider.variables, port=0)
    task = asyncio.create_task(server.run())
    await server.ready.wait()
    try:
        variables, _ = await ask(server.port, request())
        assert variables["CTI_EWT"] == "95" and waits.asked == [("support", 5)]
        variables, _ = await ask(server.port, request(did="8005550999", choice="1"))
        assert variables["CTI_EWT"] == ""  # nobody serves sales: unknown, not a number
        variables, _ = await ask(server.port, request(did="8005550500"))
        assert (variables["CTI_CLOSED"], variables["CTI_QUEUE"], variables["CTI_RULE"]) == (
            "callback",
            "sales",
            "night line",
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_announcement_route_asks_for_the_held_call_by_its_uniqueid() -> None:
    """``agi://.../announce`` (the holding extension's ``t``): the answer of ``announce`` for the
    channel's uniqueid; without an announcer the route does not exist (the connection is refused)."""
    asked: list[str] = []

    def announce(uniqueid: str) -> dict[str, str]:
        asked.append(uniqueid)
        return {"CTI_EWT": "95", "CTI_OFFER_CALLBACK": "1", "CTI_QUEUE": "sales"}

    decider = InboundDecider(parse_config(CONFIG).routing.ruleset("US"))
    payload = request().replace(b"/route", b"/announce").replace(b"script: route", b"script: announce")
    for announcer in (announce, None):
        server = AgiServer(decider.variables, port=0, deadline=0.3, announce=announcer)
        task = asyncio.create_task(server.run())
        await server.ready.wait()
        try:
            variables, closed = await ask(server.port, payload)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert closed
        if announcer is not None:
            assert variables == {"CTI_EWT": "95", "CTI_OFFER_CALLBACK": "1", "CTI_QUEUE": "sales"}
            assert asked == ["1700000000.1"]
        else:
            assert variables == {} and server.app is not None and server.app.refused == 1
