"""The simulated PBX's core: its state and the primitives every part raises events with (channel
state, caller id, variables, hangups, Local pairs, dials, bridges)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cti.asterisk.ami import escape
from cti.sim.agents import AgentPhone
from cti.sim.calllogs import CallLogs
from cti.sim.channels import (
    CAUSE_TEXT,
    UP,
    Bridge,
    Channel,
    ChannelRegistry,
    Headers,
)
from cti.sim.legs import CID_PRES, AgentLeg, Leg, Sink
from cti.sim.queue_log import QueueLog
from cti.sim.queues import Member, Queue, QueueEntry
from cti.sim.scenario import Scenario
from cti.sim.timeline import Timeline, Timer

AgiHook = Callable[[list[tuple[str, str]], Callable[[dict[str, str] | None], None]], None]


class PbxCore:
    """State and event primitives. The parts (``Originate``, ``Dialplan``, ``AgentLegs``, ``AppQueue``)
    subclass it and call one another through ``Pbx``; the methods they share are declared here."""

    if TYPE_CHECKING:  # defined by the parts, combined in cti.sim.pbx.Pbx
        # dialplan
        def run_dialplan(self, leg: Leg) -> None: ...
        def _after_queue(self, leg: Leg, status: str) -> None: ...
        def _patience_over(self, leg: Leg) -> None: ...
        def outside_hangup(self, leg: Leg, cause: int) -> None: ...
        def leg_hangup(self, leg: Leg, cause: int) -> None: ...
        def _after_dial(self, leg: Leg, status: str) -> None: ...

        # app_queue
        def queue_join(self, leg: Leg, q: Queue, maxwait: float) -> None: ...
        def schedule_dispatch(self) -> None: ...
        def _ring_next(self, entry: QueueEntry) -> None: ...
        def _queue_connect(self, entry: QueueEntry, al: AgentLeg) -> None: ...
        def _queue_abandon(self, entry: QueueEntry) -> None: ...

        # agent legs
        def dial_agent(
            self, leg: Leg, phone: AgentPhone, entry: QueueEntry | None, member: Member | None
        ) -> AgentLeg: ...
        def _member_status(self, phone: AgentPhone) -> None: ...
        def _agent_ring_failed(
            self, al: AgentLeg, status: str, cause_two: int, continue_leg: bool = True
        ) -> None: ...
        def agent_hangup(self, al: AgentLeg, cause: int) -> None: ...

        # chanspy
        def spyee_gone(self, ch: Channel) -> None: ...
        def spyer_hangup(self, spy: Any, cause: int) -> None: ...
        def _dial_failed(
            self, al: AgentLeg, status: str, cause_one: int, cause_two: int, continue_leg: bool = True
        ) -> None: ...
        def _end_talk(self, leg: Leg, reason: str, cause: int) -> None: ...
        def _complete(
            self,
            leg: Leg,
            al: AgentLeg,
            reason: str,
            transfer: tuple[str, str] | None = None,
            attended: str | None = None,
        ) -> None: ...

        # consult (warm transfer, ConfBridge): hooks the other parts call
        def hangup_channel(self, ch: Channel, cause: int) -> None: ...
        def consult_answered(self, leg: Leg) -> None: ...
        def consult_dial_over(self, leg: Leg, status: str) -> bool: ...
        def consult_leg_over(self, leg: Leg, cause: int) -> None: ...
        def consult_transferee_gone(self, leg: Leg, cause: int) -> bool: ...
        def consult_hangup(self, ch: Channel, cause: int) -> bool: ...
        def consult_agent_gone(self, al: AgentLeg, cause: int) -> bool: ...
        def conference_redirect(self, ch: Channel, context: str, exten: str) -> bool: ...
        def conference_join(self, leg: Leg) -> None: ...
        def conference_left(self, b: Bridge, ch: Channel) -> None: ...

    def __init__(
        self,
        scenario: Scenario,
        timeline: Timeline,
        rng: random.Random,
        sink: Sink,
        queue_log: QueueLog | None = None,
        call_logs: CallLogs | None = None,
    ) -> None:
        self.scenario = scenario
        self.timeline = timeline
        self.rng = rng
        self.sink = sink
        self.queue_log = queue_log or QueueLog()
        self.call_logs = call_logs or CallLogs()  # CDR and CEL
        self.channels = ChannelRegistry(rng.randbytes)
        self.boot_time = timeline.now
        self.global_vars: dict[str, str] = {}
        self.dids = dict(scenario.dids)
        self.events_emitted = 0
        self.played: list[
            tuple[str, str]
        ] = []  # (uniqueid, message context): Playback in the dialer contexts
        self.spies: list[Any] = []  # ChanSpy runs (cti.sim.chanspy.Spy)
        self.phones: dict[str, AgentPhone] = {a.extension: AgentPhone(a) for a in scenario.agents}
        self.queues: dict[str, Queue] = {}
        self._dispatch_timer: Timer | None = None
        # FastAGI (the sample dialplan's AGI(agi://cti/route)): the server's I/O; the model calls it with
        # the request's headers and a callback for the variables set (None: AGISTATUS FAILURE)
        self.agi_hook: AgiHook | None = None
        # contexts other modules run (cti.sim.holding: parkedcalls): context -> what a leg entering it does
        self.contexts: dict[str, Callable[[Leg], None]] = {}
        for qs in scenario.queues:
            q = Queue(qs)
            for ms in qs.members:
                phone = self.phones[ms.agent]
                m = Member(
                    q,
                    f"Local/{ms.agent}@agents/n",
                    phone.spec.name,
                    ms.agent,
                    penalty=ms.penalty,
                    login_time=self.now,
                    paused=phone.spec.paused,
                    paused_reason=phone.spec.pause_reason if phone.spec.paused else "",
                )
                q.add_member(m)
            self.queues[qs.name] = q

    # ------------------------------------------------------------------ basics
    @property
    def now(self) -> float:
        return self.timeline.now

    def later(self, delay: float, fn: Callable[..., object], *args: object) -> Timer:
        return self.timeline.call_later(delay, fn, *args)

    def event(self, name: str, category: str, headers: Headers) -> None:
        h: Headers = [("Event", name), ("Privilege", category + ",all")]
        if self.scenario.timestampevents:
            h.append(("Timestamp", f"{self.now:.6f}"))
        h.extend(headers)
        self.events_emitted += 1
        self.sink(category, h)

    def _chan_event(self, name: str, ch: Channel, extra: Headers | None = None) -> None:
        if name == "Newchannel":
            self.call_logs.start(ch, self.now)
        self.event(name, "call", ch.snapshot() + extra if extra else ch.snapshot())

    def set_state(self, ch: Channel, state: int) -> None:
        if ch.state != state:
            ch.state = state
            self._chan_event("Newstate", ch)
            if state == UP:
                self.call_logs.answer(ch, self.now)

    def set_callerid(self, ch: Channel, num: str, name: str) -> None:
        ch.cid_num, ch.cid_name = num, name
        self._chan_event("NewCallerid", ch, [CID_PRES])

    def set_connected(self, ch: Channel, num: str, name: str) -> None:
        ch.con_num, ch.con_name = num, name
        self._chan_event("NewConnectedLine", ch)

    def set_var(self, ch: Channel, name: str, value: str) -> None:
        ch.variables[name] = value
        self.event("VarSet", "dialplan", [*ch.snapshot(), ("Variable", name), ("Value", escape(value))])

    def hangup_event(self, ch: Channel, cause: int) -> None:
        if ch.hungup:
            return
        ch.hungup = True
        if ch.bridge is not None:
            self.bridge_leave(ch)
        self._chan_event(
            "Hangup", ch, [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
        )
        self.channels.forget(ch)
        over = all(c.linkedid != ch.linkedid for c in self.channels.by_uniqueid.values())
        self.call_logs.hangup(ch, cause, self.now, over)
        if self.spies:
            self.spyee_gone(ch)

    def local_bridge_event(self, one: Channel, two: Channel) -> None:
        h: Headers = []
        for prefix, ch in (("LocalOne", one), ("LocalTwo", two)):
            h.extend((prefix + k, v) for k, v in ch.snapshot())
        h += [("Context", one.context), ("Exten", one.exten), ("LocalOptimization", "No")]
        self.event("LocalBridge", "call", h)

    def dial_begin(self, caller: Channel | None, dest: Channel, dial_string: str) -> None:
        h = caller.snapshot() if caller is not None else []
        self.event("DialBegin", "call", [*h, *dest.snapshot("Dest"), ("DialString", dial_string)])

    def dial_end(self, caller: Channel | None, dest: Channel, status: str) -> None:
        h = caller.snapshot() if caller is not None else []
        self.event("DialEnd", "call", [*h, *dest.snapshot("Dest"), ("DialStatus", status)])

    def bridge_create(self) -> Bridge:
        b = Bridge(self.channels.new_bridge_id())
        self.event("BridgeCreate", "call", b.snapshot())
        return b

    def bridge_enter(self, b: Bridge, ch: Channel) -> None:
        b.channels.append(ch)
        ch.bridge = b
        # channels meeting in a bridge adopt the oldest Linkedid
        oldest = min((c.linkedid for c in b.channels), key=lambda lk: self._age(lk))
        ch.linkedid = oldest
        self.event("BridgeEnter", "call", [*b.snapshot(), *ch.snapshot()])
        self.call_logs.bridge_enter(ch, [c for c in b.channels if c is not ch], self.now)

    def _age(self, linkedid: str) -> tuple[float, str]:
        ch = self.channels.by_uniqueid.get(linkedid)
        return (ch.created if ch is not None else 0.0, linkedid)

    def bridge_leave(self, ch: Channel) -> None:
        b = ch.bridge
        if b is None:
            return
        b.channels.remove(ch)
        ch.bridge = None
        self.event("BridgeLeave", "call", [*b.snapshot(), *ch.snapshot()])
        self.call_logs.bridge_exit(ch, self.now)
        if b.kind[2] == "ConfBridge":
            self.conference_left(b, ch)

    def bridge_destroy(self, b: Bridge) -> None:
        for ch in list(b.channels):
            self.bridge_leave(ch)
        self.event("BridgeDestroy", "call", b.snapshot())
