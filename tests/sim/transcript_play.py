"""Execute the shared transcripts' ``*.actions.txt`` against the simulator, over TCP, at their times.

Virtual time is frozen (speed 1e-9) and moved by hand to each recorded action's time, so the run is
deterministic. The scenarios are played in order on one simulated PBX, as they were recorded on one
real PBX: state carries over (03's unanswered caller is still ringing agents during 04).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cti.asterisk.ami import AmiDecoder, Message, encode
from cti.sim.scenario import transcript_pbx
from cti.sim.server import SimServer
from tests.sim.transcript_compare import Roles

BOOT = 1795362987.0  # LoginTime of the static members in the transcripts: the real PBX's start
SCENARIOS = [
    "01-inbound-answered",
    "02-inbound-abandoned",
    "03-ring-no-answer",
    "04-outbound-outcomes",
    "05-cti-redirect",
    "06-blind-transfer",
    "07-list-actions",
    "08-member-management",
    "09-login-md5",
    "mixed-seed1",
]


@dataclass
class Action:
    at: float | None
    headers: list[tuple[str, str]]


def parse_actions(text: str) -> list[Action]:
    out: list[Action] = []
    at: float | None = None
    headers: list[tuple[str, str]] = []
    for line in [*text.splitlines(), ""]:
        m = re.match(r"#\s*t=([0-9.]+)", line)
        if m:
            at = float(m.group(1))
            continue
        if not line.strip():
            if headers:
                out.append(Action(at, headers))
                headers = []
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return out


def decode_ami(data: bytes) -> list[Message]:
    d = AmiDecoder(expect_banner=True)
    msgs = d.receive_data(data)
    assert not d.take_errors()
    return msgs


class _RoleMap:
    """Channel name -> role (``<context>#<k>;<half>``) for a stream, fed incrementally."""

    def __init__(self) -> None:
        self.decoder = AmiDecoder(expect_banner=True)
        self.roles = Roles()
        self.by_name: dict[str, str] = {}
        self.seen = 0

    def feed(self, data: bytes) -> dict[str, str]:
        for msg in self.decoder.receive_data(data[self.seen :]):
            for key in ("Channel", "DestChannel"):
                name = msg.get(key)
                if name and "@" in name:
                    self.by_name[name] = self.roles.channel(name)
        self.seen = len(data)
        return self.by_name


async def _play_one(sim: SimServer, actions: list[Action], real: bytes) -> bytes:
    """Send one recorded client's actions; channel names are mapped from the real run to ours by role."""
    real_roles = _RoleMap().feed(real)
    our_roles = _RoleMap()
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    received = bytearray()

    async def pump() -> None:
        while chunk := await reader.read(65536):
            received.extend(chunk)

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.01)
    for act in actions:
        if act.at is not None and act.at > sim.now:
            sim.advance(act.at - sim.now)
        headers = act.headers
        if any(k == "Channel" and v in real_roles for k, v in headers):
            ours = {role: name for name, role in our_roles.feed(bytes(received)).items()}
            headers = [
                (k, ours.get(real_roles[v], v) if k == "Channel" and v in real_roles else v)
                for k, v in headers
            ]
        if dict(headers).get("AuthType", "").lower() == "md5" and dict(headers).get("Action") == "Login":
            # the recorded Key answers the real PBX's challenge; answer ours the same way
            challenge = re.search(rb"Challenge: (\d+)", bytes(received))
            assert challenge is not None
            key = hashlib.md5(challenge.group(1) + b"ctisecret").hexdigest()
            headers = [(k, key if k == "Key" else v) for k, v in headers]
        writer.write(encode(headers))
        await writer.drain()
        aid = dict(headers).get("ActionID")
        marker = f"ActionID: {aid}\r\n".encode()
        for _ in range(500):  # let the server answer at this virtual instant
            await asyncio.sleep(0.002)
            if aid is None or marker in received or task.done():
                break
    await asyncio.wait_for(task, 5)
    writer.close()
    return bytes(received)


async def play_all(
    transcripts: Path, names: list[str] | None = None, queue_log: list[str] | None = None
) -> dict[str, bytes]:
    """Play the scenarios in order on one simulated PBX; return the bytes each client received."""
    sim = SimServer(transcript_pbx(), speed=1e-9, seed=0, start=BOOT, auth_fail_delay=0.05)
    await sim.start("127.0.0.1", 0)
    out: dict[str, bytes] = {}
    try:
        for name in names or SCENARIOS:
            acts = parse_actions((transcripts / f"{name}.actions.txt").read_text(encoding="utf-8"))
            out[name] = await _play_one(sim, acts, (transcripts / f"{name}.ami").read_bytes())
    finally:
        await sim.stop()
    if queue_log is not None:
        queue_log.extend(sim.queue_log_lines())
    assert not sim.problems, sim.problems
    return out
