"""Fault injection for the gap-free records tests: a TCP proxy, the daemon as a subprocess, the comparison.

``TcpProxy`` sits between cti and a server (the simulated Asterisk, PostgreSQL, Redis). ``cut()`` drops
every connection (an AMI link cut); ``outage(seconds)`` drops them and refuses new ones for that long: from
cti's side exactly a server restart, without touching the machine's real PostgreSQL or Redis (other
engineers' tests use them).

``compare()`` is the oracle: the store against the simulator's queue_log, leg by leg, and its CDR, call by
call, with the test parsers of tests/asterisk/asterisk_logs.py (not the product's reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cti.core.journey import CallJourney, QueueLeg
from tests.asterisk.asterisk_logs import CdrRow, LoggedLeg
from tests.conftest import ROOT, timeout


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.cuts = 0
        self.outages = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst, pair))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            self._drop(pair)

    def _drop(self, pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter]) -> None:
        if pair in self._pairs:
            self._pairs.discard(pair)
            for w in pair:
                w.transport.abort()

    def cut(self) -> None:
        """Drop every connection now (both sides see a reset)."""
        self.cuts += 1
        for pair in list(self._pairs):
            self._drop(pair)

    async def cut_live(self, within: float = 5.0) -> None:
        """Drop the live connection: waits (up to ``within`` s) for one if the client is still reconnecting,
        so that every cut drops a link that was up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout(within)
        while not self._pairs:
            assert loop.time() < deadline, "nothing connected to cut"
            await asyncio.sleep(0.005)
        self.cut()

    async def outage(self, seconds: float) -> None:
        """A server restart as the client sees it: connections dropped, new ones refused for ``seconds``."""
        self.outages += 1
        assert self._server is not None
        self._server.close()
        self.cut()
        await asyncio.sleep(seconds)
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()


class DaemonProcess:
    """``cti run`` as a real subprocess (so that kill -9 is a real kill -9); stderr to a file."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    async def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 (returns at once: the child runs on its own)
                [sys.executable, "-m", "cti", "run", "--config", str(self.config)],
                cwd=ROOT,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.starts += 1
        deadline = time.monotonic() + timeout(30)
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[offset:].decode(errors="replace")
            for line in text.splitlines():
                if line.startswith("cti: consoles on "):
                    self.url = line.split()[-1].rstrip("/")
                    return
            assert self.proc.poll() is None, text
            await asyncio.sleep(0.05)
        raise AssertionError(f"the daemon did not start: {self.log.read_text()[-2000:]}")

    async def wait_ami(self) -> None:
        """Until /healthz says every AMI link is up (logged in)."""
        import json
        import urllib.error
        import urllib.request

        def ami_up() -> bool:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=timeout(5)) as r:
                    body = json.loads(r.read().decode())
            except urllib.error.HTTPError as e:
                body = json.loads(e.read().decode())
            return bool(body["ami"]) and all(body["ami"].values())

        deadline = time.monotonic() + timeout(20)
        while not await asyncio.to_thread(ami_up):
            assert time.monotonic() < deadline, "the daemon did not log in to the simulated Asterisk"
            await asyncio.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    async def metrics(self) -> dict[str, float]:
        import urllib.request

        def get() -> str:
            with urllib.request.urlopen(self.url + "/metrics", timeout=timeout(5)) as r:
                return str(r.read().decode())

        out: dict[str, float] = {}
        for line in (await asyncio.to_thread(get)).splitlines():
            if line.startswith("cti_repair_") or line.startswith("cti_ami_reconnects"):
                name, _, value = line.rpartition(" ")
                key = name.split("{")[0].removeprefix("cti_")
                out[key] = out.get(key, 0.0) + float(value)
        return out

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, timeout(20))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Comparison:
    legs: int = 0  # queue visits queue_log closed
    calls: int = 0  # calls in the CDR
    lost_legs: int = 0
    duplicated_legs: int = 0
    wrong_legs: int = 0
    lost_calls: int = 0
    duplicated_calls: int = 0
    wrong_calls: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.lost_legs
            or self.duplicated_legs
            or self.wrong_legs
            or self.lost_calls
            or self.duplicated_calls
            or self.wrong_calls
        )

    def figures(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int) and not isinstance(v, bool)}


def compare(journeys: list[CallJourney], logged: list[LoggedLeg], cdr: list[CdrRow]) -> Comparison:
    """The store against queue_log (leg by leg: outcome, agent, wait and talk within 1 s) and the CDR (call
    by call: each Linkedid once, its start and end within 1 s)."""
    out = Comparison()
    stored: dict[tuple[str, str], list[tuple[str, QueueLeg]]] = defaultdict(list)
    for j in journeys:
        for leg in sorted(j.queue_legs, key=lambda x: x.entered_at):
            stored[(leg.uniqueid, leg.queue)].append((j.linkedid, leg))
    seen: Counter[tuple[str, str]] = Counter()
    for lg in logged:
        if lg.outcome is None:
            continue
        out.legs += 1
        key = (lg.callid, lg.queue)
        n = seen[key]
        seen[key] += 1
        legs = stored.get(key, [])
        if n >= len(legs):
            out.lost_legs += 1
            out.details.append(f"lost leg {key}")
            continue
        leg = legs[n][1]
        agent = lg.agent if lg.outcome in ("answered", "transferred") else None
        ok = (
            leg.outcome is not None
            and leg.outcome.value == lg.outcome
            and (leg.agent or None) == agent
            and abs(leg.wait_seconds - float(lg.wait or 0)) <= 1.0
            and abs(leg.talk_seconds - float(lg.talk or 0)) <= 1.0
        )
        if not ok:
            out.wrong_legs += 1
            out.details.append(f"wrong leg {key}: stored {leg}, logged {lg}")
    for key, legs in stored.items():
        if len(legs) > seen.get(key, 0) and seen.get(key, 0) > 0:
            out.duplicated_legs += len(legs) - seen[key]
            out.details.append(f"duplicated leg {key}")
    calls: dict[str, list[CdrRow]] = defaultdict(list)
    for row in cdr:
        calls[row.linkedid].append(row)
    by_id: Counter[str] = Counter(j.linkedid for j in journeys)
    journey_of: dict[str, CallJourney] = {j.linkedid: j for j in journeys}
    uniqueids = {row.uniqueid for row in cdr}
    for linkedid, rows in calls.items():
        out.calls += 1
        if linkedid not in by_id:
            out.lost_calls += 1
            out.details.append(f"lost call {linkedid}")
            continue
        j = journey_of[linkedid]
        start, end = min(r.start for r in rows), max(r.end for r in rows)
        if abs(j.started_at - start) > 1.0 or j.ended_at is None or abs(j.ended_at - end) > 1.0:
            out.wrong_calls += 1
            out.details.append(f"wrong call {linkedid}: {j.started_at}-{j.ended_at} vs {start}-{end}")
    for linkedid in by_id:
        if linkedid not in calls:
            out.duplicated_calls += 1
            what = "a duplicate of a logged channel" if linkedid in uniqueids else "not in the CDR"
            out.details.append(f"extra call {linkedid}: {what}")
    return out


async def stop_quietly(*things: TcpProxy | DaemonProcess) -> None:
    for t in things:
        with contextlib.suppress(Exception):
            await t.stop()
