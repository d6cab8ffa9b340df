"""The simulated Asterisk as an asyncio TCP server, and its in-process API for tests and the demo.

Usage::

    from cti.sim.server import SimServer
    from cti.sim.scenario import load_scenario

    sim = SimServer(load_scenario("config/sim/demo.toml"), speed=1.0, seed=1)
    port = await sim.start("127.0.0.1", 0)     # the bound port; AMI is now served there
    leg = sim.place_call("13800138000", "张伟", "sales", patience=60, talk=30)
    sim.hangup(leg.ch.name)                    # any channel, as an AMI Hangup would
    sim.queue_log_lines()                      # the ground truth, Asterisk queue_log format
    sim.call_logs.cdr, sim.call_logs.cel       # its CDR rows and CEL events (files: cdr=, cel=)
    await sim.stop()

``place_call`` sends a caller exactly as the real PBX's client did (``Local/<ani>@callers/n`` into
``inbound,<queue or hold>`` with PATIENCE and __TALK). ``advance(seconds)`` runs virtual time forward
at once (tests, benchmarks); otherwise a driver task follows the loop clock times ``speed``.
``taps`` receive every event as ``(category, headers, bytes)``: the way to record a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from cti.asterisk.ami import encode
from cti.sim.actions import actions_for
from cti.sim.agi_client import run_script
from cti.sim.callers import CallerGenerator, place_call
from cti.sim.calllogs import CallLogs
from cti.sim.channels import Headers
from cti.sim.pbx import Leg, Pbx
from cti.sim.pgsink import PgSink
from cti.sim.protocol import AmiSession, Handler
from cti.sim.queue_log import QueueLog
from cti.sim.scenario import Scenario, User, transcript_pbx
from cti.sim.timeline import Timeline, VirtualClock

log = logging.getLogger("cti.sim")
Tap = Callable[[str, Headers, bytes], None]


class SimServer:
    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        speed: float = 1.0,
        seed: int | None = None,
        start: float | None = None,
        queue_log: str | Path | None = None,
        cdr: str | Path | None = None,
        cel: str | Path | None = None,
        records_url: str = "",
        traffic: bool | None = None,
        auth_fail_delay: float = 1.0,
        max_backlog: int = 64 * 1024 * 1024,
    ) -> None:
        self.scenario = scenario or transcript_pbx()
        sc = self.scenario
        self.speed = speed
        seed = sc.seed if seed is None else seed
        begin = start if start is not None else (sc.start or time.time())
        self.timeline = Timeline(begin)
        self.rng = random.Random(seed)
        self.challenge_rng = random.Random(seed ^ 0x5EED)
        self.queue_log = QueueLog(queue_log)
        self.call_logs = CallLogs(cdr, cel)
        self.pbx = Pbx(sc, self.timeline, self.rng, self._broadcast, self.queue_log, self.call_logs)
        # Asterisk's PostgreSQL logging (cdr_pgsql, cel_pgsql, realtime queue_log): tables cdr, cel, queue_log
        self.pg_sink: PgSink | None = (
            PgSink(records_url, self.queue_log, self.call_logs) if records_url else None
        )
        self.users: dict[str, User] = {u.username: u for u in sc.users}
        self.actions: dict[str, Handler] = actions_for(self)
        self.sessions: set[AmiSession] = set()
        self.taps: list[Tap] = []
        self.problems: list[str] = []
        self.auth_fail_delay = auth_fail_delay
        self.max_backlog = max_backlog
        self.clock: VirtualClock | None = None
        self.generator: CallerGenerator | None = None
        if sc.traffic.enabled if traffic is None else traffic:
            self.generator = CallerGenerator(self.pbx, sc.traffic, random.Random(seed + 1))
        self._server: asyncio.Server | None = None
        self._driver: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self.host = ""
        self.port = 0
        self._agi_tasks: set[asyncio.Task[None]] = set()
        self.agi_target = sc.agi  # host:port of cti's FastAGI; set later when cti's port is known

    @property
    def agi_target(self) -> str:
        return self._agi_target

    @agi_target.setter
    def agi_target(self, target: str) -> None:
        """Where the sample dialplan's ``AGI(agi://.../route)`` goes ("": the dialplan without AGI)."""
        self._agi_target = target
        self.pbx.agi_hook = self._agi if target else None
        if target and self.pbx.scenario.agi != target:  # the dialplan's AGI() line names it
            self.pbx.scenario = dataclasses.replace(self.pbx.scenario, agi=target)

    def _agi(self, headers: list[tuple[str, str]], done: Callable[[dict[str, str] | None], None]) -> None:
        host, _, port = self._agi_target.rpartition(":")

        async def script() -> None:
            variables = await run_script(host, int(port), headers)
            self._catch_up()  # the answer lands at the virtual time it arrives
            done(variables)
            self.after_action()

        task = asyncio.get_running_loop().create_task(script())
        self._agi_tasks.add(task)
        task.add_done_callback(self._agi_tasks.discard)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self.clock = VirtualClock(self.timeline.now, self.speed, loop.time)
        self._wake = asyncio.Event()
        self.timeline.on_schedule = self._on_schedule
        self._server = await loop.create_server(lambda: AmiSession(self), host, port)
        sock = self._server.sockets[0].getsockname()
        self.host, self.port = sock[0], sock[1]
        if self.pg_sink is not None:
            await self.pg_sink.start()
        if self.generator is not None:
            self.generator.start()
        self._driver = asyncio.create_task(self._drive(), name="cti-sim-clock")
        log.info("simulated Asterisk listening on %s:%d (speed %g)", self.host, self.port, self.speed)
        return self.port

    async def stop(self) -> None:
        if self.generator is not None:
            self.generator.stop()
        if self._server is not None:
            self._server.close()
            for s in list(self.sessions):
                s.abort()  # stop means stop: unsent output to a client that is not reading is dropped
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        for task in list(self._agi_tasks):
            task.cancel()
        await asyncio.gather(*self._agi_tasks, return_exceptions=True)
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        self.timeline.on_schedule = None
        if self.pg_sink is not None:
            await self.pg_sink.stop()
        self.queue_log.close()
        self.call_logs.close()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # ------------------------------------------------------------------ time
    def _on_schedule(self, when: float) -> None:
        if self._wake is not None:
            self._wake.set()

    def _catch_up(self) -> None:
        if self.clock is None:
            return
        try:
            self.timeline.advance_to(self.clock.now())
        except Exception as e:  # a model bug must not stop the PBX; it is logged and visible
            self.log_problem(f"model error: {type(e).__name__}: {e}")
            log.exception("simulator model error")

    async def _drive(self) -> None:
        assert self.clock is not None and self._wake is not None
        while True:
            self._wake.clear()
            self._catch_up()
            nt = self.timeline.next_time()
            delay = 60.0 if nt is None else min(60.0, self.clock.real_delay(nt))
            if delay > 0:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancel of stop()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
            else:
                await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Run virtual time forward now (tests and benchmarks; the driver's clock is shifted too)."""
        self.timeline.advance_to(self.timeline.now + seconds)
        if self.clock is not None:
            self.clock.start += seconds

    def before_action(self) -> None:
        self._catch_up()

    def cut_links(self) -> int:
        """Drop every AMI session at once, as a network cut would (fault tests); returns how many."""
        sessions = list(self.sessions)
        for s in sessions:
            s.abort()
        return len(sessions)

    def after_action(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ events
    def _broadcast(self, category: str, headers: Headers) -> None:
        data = encode(headers)
        for s in list(self.sessions):
            if s.wants(category, headers, data):
                s.deliver(data)
        for tap in self.taps:
            tap(category, headers, data)

    def security_event(self, s: AmiSession, name: str, severity: str, extra: Headers) -> None:
        """A security-class event about a session (SuccessfulAuth, RequestBadFormat), as res_security_log."""

        def tv(when: float) -> str:
            return (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when * 1000) % 1000:03d}+0000"
            )

        local = f"IPV4/TCP/{self.host}/{self.port}"
        remote = f"IPV4/TCP/{s.peer[0]}/{s.peer[1]}" if s.peer else "IPV4/TCP/0.0.0.0/0"
        session = [("SessionID", f"0x{id(s):x}"), ("LocalAddress", local), ("RemoteAddress", remote)]
        head: Headers = [
            ("EventTV", tv(self.pbx.now)),
            ("Severity", severity),
            ("Service", "AMI"),
            ("EventVersion", "1"),
        ]
        if name == "SuccessfulAuth":
            body = [*head, ("AccountID", s.username), *session, *extra, ("SessionTV", tv(s.started))]
        else:
            body = [*head, *session, *extra, ("SessionTV", tv(s.started)), ("AccountID", s.username)]
        self.pbx.event(name, "security", body)

    def log_security(self, text: str) -> None:
        log.info("%s", text)

    def log_problem(self, text: str) -> None:
        self.problems.append(text)
        log.warning("%s", text)

    # ------------------------------------------------------------------ control API
    def place_call(
        self,
        number: str,
        name: str,
        exten: str,
        patience: float = 60.0,
        talk: float | None = None,
        variables: dict[str, str] | None = None,
    ) -> Leg | None:
        """Send one caller into ``inbound,<exten>`` (a queue name, or ``hold`` for CTI routing)."""
        self._catch_up()
        leg = place_call(self.pbx, number, name, exten, patience, talk, variables)
        self.after_action()
        return leg

    def hangup(self, channel: str, cause: int = 16) -> bool:
        self._catch_up()
        ch = self.pbx.channels.find(channel)
        if ch is None:
            return False
        self.pbx.hangup_channel(ch, cause)
        self.after_action()
        return True

    def queue_log_lines(self) -> list[str]:
        return list(self.queue_log.lines)

    @property
    def now(self) -> float:
        return self.timeline.now
