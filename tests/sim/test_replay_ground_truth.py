"""Replaying a simulated call center through `cti replay` gives the queue figures the simulator logged.

A simulated half hour of the demo center (inbound traffic to both queues, an outbound campaign to the
simulated PSTN landing in ``dialer-connect``, blind transfers sent over AMI) is recorded by a plain
AMI client, byte for byte. The traffic then stops and every call is let to finish, so each journey
ends inside the recording. ``python -m cti replay FILE --summary`` must then count, per queue, what
the simulator's own queue_log (its ground truth, Asterisk's format) says happened.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from tests.conftest import ROOT, timeout
from tests.sim.conftest import START, RawClient


async def record_call_center(minutes: int, seed: int) -> tuple[bytes, list[str]]:
    sim = SimServer(load_scenario(ROOT / "config/sim/demo.toml"), speed=1e-9, seed=seed, start=START)
    await sim.start("127.0.0.1", 0)
    client = await RawClient.connect(sim.port)
    await client.login()
    rng = random.Random(seed)

    async def pump() -> None:
        while await client._fill(timeout(60)):
            pass

    reader = asyncio.create_task(pump())
    for sec in range(minutes * 60):
        sim.advance(1)
        if sec % 15 == 0:  # the campaign: one dial every 15 s
            num = f"41555{rng.randrange(10**6):06d}"
            await client.send(
                Action="Originate",
                Channel=f"Local/{num}@pstn/n",
                Context="dialer-connect",
                Exten=num,
                Priority="1",
                CallerID='"Campaign" <4155559999>',
                Timeout="20000",
                Async="true",
                ChannelId=f"dial-{sec}",
                Variable="CAMPAIGN=spring",
                ActionID=f"d{sec}",
            )
        if sec % 45 == 7:  # an agent blind-transfers its caller to Bob
            talking = [
                c
                for c in sim.pbx.channels.all()
                if "@agents-" in c.name and c.name.endswith(";1") and c.bridge
            ]
            if talking:
                await client.send(
                    Action="BlindTransfer",
                    Channel=rng.choice(talking).name,
                    Context="deliver",
                    Exten="1002",
                    ActionID=f"t{sec}",
                )
        await asyncio.sleep(0)
    assert sim.generator is not None
    sim.generator.stop()
    for _ in range(7200):  # let every call end inside the recording
        if not len(sim.pbx.channels):
            break
        sim.advance(1)
        await asyncio.sleep(0)
    assert not len(sim.pbx.channels), [c.name for c in sim.pbx.channels.all()]
    await asyncio.sleep(0.1)
    await client.send(Action="Logoff", ActionID="bye")
    await asyncio.wait_for(reader, timeout(10))
    await sim.stop()
    assert not sim.problems, sim.problems
    return bytes(client.raw), sim.queue_log_lines()


def _truth(lines: list[str]) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for line in lines:
        _, callid, queue, _agent, verb, *_ = line.split("|")
        if callid not in ("NONE", "MANAGER"):
            out.setdefault(queue, Counter())[verb] += 1
    return out


def _mean_hold(lines: list[str], queue: str) -> float:
    holds = [int(f[5]) for f in (line.split("|") for line in lines) if f[2] == queue and f[4] == "CONNECT"]
    return sum(holds) / len(holds)


def test_cti_replay_of_a_simulated_center_matches_the_simulators_queue_log(tmp_path: Path) -> None:
    raw, queue_log = asyncio.run(record_call_center(minutes=30, seed=3))
    recording = tmp_path / "center.ami"
    recording.write_bytes(raw)
    (tmp_path / "center.queue_log").write_text("\n".join(queue_log) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "cti", "replay", str(recording), "--summary"],
        capture_output=True,
        text=True,
        timeout=timeout(120),
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    stats = json.loads(done.stdout)
    truth = _truth(queue_log)
    assert set(stats) == set(truth) == {"sales", "support"}
    for queue, verbs in truth.items():
        s = stats[queue]
        assert verbs["ENTERQUEUE"] > 20, f"{queue}: too little traffic to mean anything"
        assert s["offered"] == verbs["ENTERQUEUE"], queue
        assert s["answered"] == verbs["CONNECT"], queue
        assert s["abandoned"] == verbs["ABANDON"], queue
        assert s["timed_out"] == verbs["EXITWITHTIMEOUT"], queue
        assert s["exited_empty"] == verbs["EXITEMPTY"], queue
        assert s["transferred"] == verbs["BLINDTRANSFER"], queue
        assert s["ring_no_answer"] == verbs["RINGNOANSWER"], queue
        # queue_log keeps whole seconds; the tracker keeps the events' microseconds
        assert abs(s["avg_wait_answered"] - _mean_hold(queue_log, queue)) < 1.0, queue
    assert sum(v["BLINDTRANSFER"] for v in truth.values()) > 5
    assert truth["sales"]["EXITWITHTIMEOUT"] > 0  # dialer calls dropped by the 2-second rule
