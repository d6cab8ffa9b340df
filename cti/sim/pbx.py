"""The simulated PBX: the real transcripts' dialplan, channels, bridges and app_queue, as events.

Theory of operation:

1. The model is synchronous and pure: it never sleeps and never reads a clock. Time is the
   ``Timeline``'s virtual ``now``; every delay is a timer. Randomness comes from one seeded
   ``random.Random``. The same actions at the same virtual times give the same events.
2. Every AMI event goes through ``Pbx.event(name, category, headers)``, which adds ``Privilege`` and
   ``Timestamp`` and hands the finished header list to ``sink`` (the server fans it out to sessions).
3. The dialplan is the one of the PBX the shared transcripts were recorded on:

   - ``callers,<ani>``: answers, waits PATIENCE seconds, hangs up (the caller).
   - ``inbound,<queue>``: ``Queue(<queue>,t,,,<maxwait>)``.
   - ``inbound,hold``: answers, raises ``UserEvent(CtiWaiting)``, waits for a Redirect.
   - ``deliver,<agent>``: ``Dial(Local/<agent>@agents/n)``.
   - ``agents,<agent>``: the simulated phone (``cti.sim.agents``).
   - ``pstn,<number>``: the simulated public network (``cti.sim.pstn``).
   - ``dialer-connect,<number>``: ``Queue(sales,t,,,CWAIT)``, then ``UserEvent(DialerDrop)``.

4. A *leg* is the channel that runs that dialplan (a Local ``;1`` or a trunk channel) together with
   the outside party (the Local ``;2``: the caller, or the called number). An *agent leg* is one
   ``Local/<ext>@agents`` pair dialled by a leg, from a queue or from ``deliver``.
5. Event order inside each flow follows the real transcripts (see tests/sim/test_transcripts.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cti.asterisk.ami import escape
from cti.sim import pstn as pstn_model
from cti.sim.agents import AgentPhone
from cti.sim.channels import (
    BUSY,
    CAUSE_TEXT,
    RING,
    UP,
    Bridge,
    Channel,
    ChannelRegistry,
    Headers,
    inheritable,
)
from cti.sim.queue_log import QueueLog
from cti.sim.queues import Member, Queue, QueueEntry, order_candidates
from cti.sim.scenario import Scenario
from cti.sim.timeline import Timeline, Timer

Sink = Callable[[str, Headers], None]

CID_PRES = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
RECHECK = 1.0  # app_queue: a caller waiting for its turn looks again every second
ANSWER_DELAY = 0.5  # Answer() waits 500 ms before the next application (the transcripts' Wait starts then)


class ActionError(Exception):
    """An AMI action failed; the message is Asterisk's own text."""


@dataclass(eq=False, slots=True)
class AgentLeg:
    leg: Leg
    phone: AgentPhone
    one: Channel
    two: Channel
    started: float
    entry: QueueEntry | None = None
    member: Member | None = None
    answered: bool = False
    connected_at: float = 0.0
    timers: list[Timer] = field(default_factory=list)
    done: bool = False

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


@dataclass(eq=False, slots=True)
class Leg:
    ch: Channel
    outside: Channel | None
    target: tuple[str, str, int]
    action_id: str | None = None
    dial_string: str = ""
    on_result: Callable[[bool], None] | None = None  # a synchronous Originate waits for this
    answered: bool = False
    entry: QueueEntry | None = None  # waiting in a queue
    dialing: AgentLeg | None = None  # Dial() from deliver
    peer: AgentLeg | None = None  # bridged with this agent leg
    bridge: Bridge | None = None
    queue_connect: QueueEntry | None = None  # the queue entry the bridged call came from
    after: Timer | None = None  # the dialplan's next step after Queue() (DialerDrop's hangup)
    timers: list[Timer] = field(default_factory=list)
    done: bool = False

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


class Pbx:
    def __init__(
        self,
        scenario: Scenario,
        timeline: Timeline,
        rng: random.Random,
        sink: Sink,
        queue_log: QueueLog | None = None,
    ) -> None:
        self.scenario = scenario
        self.timeline = timeline
        self.rng = rng
        self.sink = sink
        self.queue_log = queue_log or QueueLog()
        self.channels = ChannelRegistry(rng.randbytes)
        self.boot_time = timeline.now
        self.global_vars: dict[str, str] = {}
        self.dids = dict(scenario.dids)
        self.events_emitted = 0
        self.phones: dict[str, AgentPhone] = {a.extension: AgentPhone(a) for a in scenario.agents}
        self.queues: dict[str, Queue] = {}
        self._dispatch_timer: Timer | None = None
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
        self.event(name, "call", ch.snapshot() + extra if extra else ch.snapshot())

    def set_state(self, ch: Channel, state: int) -> None:
        if ch.state != state:
            ch.state = state
            self._chan_event("Newstate", ch)

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

    def bridge_destroy(self, b: Bridge) -> None:
        for ch in list(b.channels):
            self.bridge_leave(ch)
        self.event("BridgeDestroy", "call", b.snapshot())

    # ------------------------------------------------------------------ originate
    def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int,
        cid_num: str,
        cid_name: str,
        variables: dict[str, str],
        action_id: str | None,
        channel_id: str | None,
        other_channel_id: str | None,
        timeout: float,
        on_result: Callable[[bool], None] | None = None,
    ) -> Leg | None:
        """Start an originate. The outcome arrives as OriginateResponse (Async), as in Asterisk; a
        synchronous originate gets ``on_result(answered)`` instead and no event."""
        target = (context, exten, priority)
        tech, _, resource = channel.partition("/")
        if tech.lower() == "local":
            spec = resource[:-2] if resource.endswith("/n") else resource
            number, _, ctx = spec.partition("@")
            if ctx in ("callers", "pstn") or (ctx == "agents" and number in self.phones):
                return self._originate_local(
                    channel,
                    number,
                    ctx,
                    target,
                    cid_num,
                    cid_name,
                    variables,
                    action_id,
                    channel_id,
                    other_channel_id,
                    timeout,
                    on_result,
                )
        elif tech.upper() in ("PJSIP", "SIP", "IAX2", "DAHDI") and resource:
            number = resource.split("@", 1)[0].rsplit("/", 1)[-1]
            if number.lstrip("+").isdigit():
                return self._originate_trunk(
                    tech.upper(),
                    resource,
                    number,
                    target,
                    cid_num,
                    cid_name,
                    variables,
                    action_id,
                    channel_id,
                    timeout,
                    on_result,
                )
        if on_result is not None:
            on_result(False)
            return None
        self._originate_response(
            action_id, "Failure", channel, target, 0, channel_id or "<null>", cid_num, cid_name
        )
        return None

    def _originate_response(
        self,
        action_id: str | None,
        response: str,
        channel: str,
        target: tuple[str, str, int],
        reason: int,
        uniqueid: str,
        cid_num: str,
        cid_name: str,
        leg: Leg | None = None,
    ) -> None:
        if leg is not None and leg.on_result is not None:  # a synchronous Originate: no event
            done, leg.on_result = leg.on_result, None
            done(response == "Success")
            return
        h: Headers = []
        if action_id is not None:
            h.append(("ActionID", action_id))
        h += [
            ("Response", response),
            ("Channel", channel),
            ("Context", target[0]),
            ("Exten", target[1]),
            ("Reason", str(reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", cid_num or "<unknown>"),
            ("CallerIDName", escape(cid_name or "<unknown>")),
        ]
        self.event("OriginateResponse", "call", h)

    def _originate_local(
        self,
        channel: str,
        number: str,
        ctx: str,
        target: tuple[str, str, int],
        cid_num: str,
        cid_name: str,
        variables: dict[str, str],
        action_id: str | None,
        channel_id: str | None,
        other_channel_id: str | None,
        timeout: float,
        on_result: Callable[[bool], None] | None,
    ) -> Leg:
        one, two = self.channels.create_local_pair(number, ctx, self.now, None, channel_id, other_channel_id)
        self._chan_event("Newchannel", one)
        self._chan_event("Newchannel", two)
        one.variables.update(variables)
        two.variables.update(variables)
        self.set_callerid(one, cid_num, cid_name)
        self.set_connected(one, cid_num, cid_name)
        two.con_num, two.con_name = cid_num, cid_name
        self.set_callerid(two, cid_num, cid_name)
        self.set_connected(two, cid_num, cid_name)
        self.local_bridge_event(one, two)
        dial_string = channel.split("/", 1)[1]
        self.dial_begin(None, one, dial_string)
        leg = Leg(one, two, target, action_id, channel, on_result)
        one.owner = two.owner = leg
        if ctx == "callers":
            two.app, two.appdata = "Wait", two.variable("PATIENCE") or ""
            self._outside_answers(leg)
            patience = _float(two.variable("PATIENCE"), 3600.0)
            leg.timers.append(self.later(ANSWER_DELAY + patience, self._patience_over, leg))
        elif ctx == "pstn":
            self._pstn_ring(leg, pstn_model.by_last_digit(number), timeout)
        else:  # a call to an agent's phone (click-to-call)
            phone = self.phones[number]
            plan = phone.plan_ring(two.variables, self.rng)
            if plan.answer_after is not None and plan.answer_after < timeout:
                leg.timers.append(self.later(plan.answer_after, self._outside_answers, leg))
            elif plan.reject_after is not None and plan.reject_after < timeout:
                outcome = pstn_model.Outcome(pstn_model.BUSY, plan.reject_after, None)
                leg.timers.append(self.later(plan.reject_after, self._outside_fails, leg, outcome))
            else:
                leg.timers.append(self.later(timeout, self._originate_no_answer, leg))
        return leg

    def _originate_trunk(
        self,
        tech: str,
        resource: str,
        number: str,
        target: tuple[str, str, int],
        cid_num: str,
        cid_name: str,
        variables: dict[str, str],
        action_id: str | None,
        channel_id: str | None,
        timeout: float,
        on_result: Callable[[bool], None] | None,
    ) -> Leg:
        trunk = resource.split("@", 1)[1] if "@" in resource else resource.split("/", 1)[0]
        ch = self.channels.create_tech(tech, trunk, number, "from-trunk", self.now, channel_id)
        self._chan_event("Newchannel", ch)
        ch.variables.update(variables)
        self.set_callerid(ch, cid_num, cid_name)
        self.set_connected(ch, number, "")
        self.dial_begin(None, ch, f"{resource}")
        leg = Leg(ch, None, target, action_id, f"{tech}/{resource}", on_result)
        ch.owner = leg
        self.set_state(ch, 5)  # Ringing
        self._pstn_ring(leg, pstn_model.drawn(self.scenario.pstn, self.rng), timeout)
        return leg

    def _pstn_ring(self, leg: Leg, outcome: pstn_model.Outcome, timeout: float) -> None:
        if leg.outside is not None and outcome.digit:  # the pstn context jumps to its outcome at once
            leg.outside.context, leg.outside.exten = "pstn-outcome", "o" + outcome.digit
        if outcome.kind in (pstn_model.ANSWER, pstn_model.MACHINE) and outcome.after < timeout:
            leg.timers.append(self.later(outcome.after, self._pstn_answers, leg, outcome))
        elif outcome.kind in (pstn_model.BUSY, pstn_model.CONGESTION) and outcome.after < timeout:
            leg.timers.append(self.later(outcome.after, self._outside_fails, leg, outcome))
        else:
            leg.timers.append(self.later(timeout, self._originate_no_answer, leg))

    def _pstn_answers(self, leg: Leg, outcome: pstn_model.Outcome) -> None:
        two = leg.outside
        if two is not None and outcome.digit:
            two.context, two.exten = "pstn-outcome", "o" + outcome.digit
        if outcome.kind == pstn_model.MACHINE:
            leg.ch.variables["AMDSTATUS"] = "MACHINE"
        self._outside_answers(leg)
        talk = outcome.talk
        ptalk = leg.ch.variable("PTALK")
        if outcome.digit in ("0", "4") and ptalk:  # pstn-outcome: Answer, Wait(PTALK), Hangup
            talk = ANSWER_DELAY + _float(ptalk, 0.0)
        if talk is not None and not leg.done:
            leg.timers.append(self.later(talk, self.outside_hangup, leg, 16))

    def _outside_answers(self, leg: Leg) -> None:
        leg.answered = True
        one, two = leg.ch, leg.outside
        if two is not None:
            self.set_state(two, UP)
        self.set_state(one, UP)
        self.dial_end(None, one, "ANSWER")
        self._originate_response(
            leg.action_id,
            "Success",
            one.name,
            leg.target,
            4,
            one.uniqueid,
            one.cid_num,
            one.cid_name,
            leg=leg,
        )
        one.context, one.exten, one.priority = leg.target
        self.run_dialplan(leg)

    def _outside_fails(self, leg: Leg, outcome: pstn_model.Outcome) -> None:
        busy = outcome.kind == pstn_model.BUSY
        two = leg.outside
        if two is not None:
            if outcome.digit:
                two.context, two.exten = "pstn-outcome", "o" + outcome.digit
            self.set_state(two, BUSY)
        self.dial_end(None, leg.ch, "BUSY" if busy else "CONGESTION")
        self._originate_response(
            leg.action_id,
            "Failure",
            leg.dial_string,
            leg.target,
            5 if busy else 8,
            leg.ch.uniqueid,
            leg.ch.cid_num,
            leg.ch.cid_name,
            leg=leg,
        )
        self._finish_leg(leg, 0, 17 if busy else 34)

    def _originate_no_answer(self, leg: Leg) -> None:
        self._originate_response(
            leg.action_id,
            "Failure",
            leg.dial_string,
            leg.target,
            3,
            leg.ch.uniqueid,
            leg.ch.cid_num,
            leg.ch.cid_name,
            leg=leg,
        )
        self._finish_leg(leg, 19, 19)

    def _finish_leg(self, leg: Leg, cause_one: int, cause_two: int) -> None:
        leg.done = True
        leg.cancel_timers()
        self.hangup_event(leg.ch, cause_one)
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause_two)

    # ------------------------------------------------------------------ dialplan
    def run_dialplan(self, leg: Leg) -> None:
        ch = leg.ch
        ctx, exten = ch.context, ch.exten
        if ctx == "inbound" and exten in self.dids:  # a dialled number routed to a queue or to hold
            exten = self.dids[exten]
        if ctx == "inbound" and exten == "hold":
            ch.app, ch.appdata, ch.priority = "Wait", "3600", 3
            self.event(
                "UserEvent",
                "user",
                [
                    *ch.snapshot(),
                    ("UserEvent", "CtiWaiting"),
                    ("Uniqueid", ch.uniqueid),
                    ("CallerIDNum", ch.cid_num),
                ],
            )
            return
        if ctx == "inbound" and exten in self.queues:
            ch.priority = 3
            maxwait = self.queues[exten].spec.maxwait
            self.queue_join(leg, self.queues[exten], maxwait)
            return
        if ctx == "deliver" and exten in self.phones:
            self.dial_agent(leg, self.phones[exten], None, None)
            return
        if ctx == "dialer-connect":
            ch.priority = 3
            qname = ch.variable("DIALER_QUEUE") or (
                "sales" if "sales" in self.queues else next(iter(self.queues), "")
            )
            if qname in self.queues:
                cwait = _float(ch.variable("CWAIT"), self.scenario.cwait)
                self.queue_join(leg, self.queues[qname], cwait)
                return
        # no such extension: the channel hangs up
        self.leg_hangup(leg, 16)

    def _after_queue(self, leg: Leg, status: str) -> None:
        """The dialplan after Queue() returned without a connected agent."""
        if leg.done:
            return
        if leg.ch.context == "dialer-connect":
            ch = leg.ch
            self.event(
                "UserEvent",
                "user",
                [
                    *ch.snapshot(),
                    ("UserEvent", "DialerDrop"),
                    ("Campaign", ch.variable("CAMPAIGN") or ""),
                    ("Number", ch.exten),
                    ("QueueStatus", status),
                ],
            )
            leg.after = self.later(1.0, self.leg_hangup, leg, 16)
            leg.timers.append(leg.after)
            return
        self.leg_hangup(leg, 16)

    # ------------------------------------------------------------------ hangups
    def hangup_channel(self, ch: Channel, cause: int) -> None:
        """An AMI Hangup (or any soft hangup) of one channel, whatever its role."""
        owner = ch.owner
        if isinstance(owner, Leg):
            if ch is owner.outside:
                self.outside_hangup(owner, cause)
            else:
                self.leg_hangup(owner, cause)
        elif isinstance(owner, AgentLeg):
            if owner.answered:
                self.agent_hangup(owner, cause)
            else:
                self._agent_ring_failed(owner, "BUSY" if cause == 17 else "CANCEL", cause)
        else:
            self.hangup_event(ch, cause)

    def _patience_over(self, leg: Leg) -> None:
        """The caller's Wait(PATIENCE) ends: the real dialplan hangs up, talking or not.

        ``PATIENCE_SCOPE=wait`` (set by the simulator's own traffic) makes it a waiting patience: a
        caller who is talking to an agent by then stays on the line until the conversation ends.
        """
        if leg.peer is not None and leg.ch.variable("PATIENCE_SCOPE") == "wait":
            # still talking: should the call come back to waiting (a transfer), patience starts again
            patience = _float(leg.ch.variable("PATIENCE"), 3600.0)
            leg.timers.append(self.later(patience, self._patience_over, leg))
            return
        self.outside_hangup(leg, 16)

    def outside_hangup(self, leg: Leg, cause: int) -> None:
        """The outside party (the caller's ;2, or the called number) hangs up."""
        if leg.done:
            return
        if leg.peer is not None:  # talking to an agent
            self._end_talk(leg, "caller", cause)
            return
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause)
        self.leg_hangup(leg, cause)

    def leg_hangup(self, leg: Leg, cause: int) -> None:
        """The dialplan side hangs up (the end of the dialplan, an AMI Hangup, or its caller left)."""
        if leg.done:
            return
        if leg.peer is not None:
            self._end_talk(leg, "caller", cause)
            return
        leg.done = True
        leg.cancel_timers()
        if leg.entry is not None:
            self._queue_abandon(leg.entry)
        if leg.dialing is not None:
            self._agent_ring_failed(leg.dialing, "CANCEL", 0, continue_leg=False)
        self.hangup_event(leg.ch, cause)
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause)

    # ------------------------------------------------------------------ agents
    def dial_agent(
        self, leg: Leg, phone: AgentPhone, entry: QueueEntry | None, member: Member | None
    ) -> AgentLeg:
        ch = leg.ch
        ext = phone.extension
        one, two = self.channels.create_local_pair(ext, "agents", self.now, ch.linkedid)
        inherited = inheritable(ch.variables)
        one.variables.update(inherited)
        two.variables.update(inherited)
        self._chan_event("Newchannel", one)
        self._chan_event("Newchannel", two)
        if entry is None:  # Dial(): the outgoing channel shows the dialled number with the caller's name
            one.con_num, one.con_name = ch.cid_num, ch.cid_name
            self.set_callerid(one, ext, ch.cid_name)
            self.set_connected(one, ch.cid_num, ch.cid_name)
        else:
            self.set_callerid(one, ch.cid_num, ch.cid_name)
        two.con_num, two.con_name = ch.cid_num, ch.cid_name
        self.set_callerid(two, ch.cid_num, ch.cid_name)
        self.set_connected(two, ch.cid_num, ch.cid_name)
        self.local_bridge_event(one, two)
        al = AgentLeg(leg, phone, one, two, self.now, entry, member)
        one.owner = two.owner = al
        one.app, one.appdata = ("AppQueue", "(Outgoing Line)") if entry else ("AppDial2", "(Outgoing Line)")
        if member is not None and entry is not None:
            self.event(
                "AgentCalled",
                "agent",
                [
                    *ch.snapshot(),
                    *one.snapshot("Dest"),
                    ("Queue", entry.queue.name),
                    ("Interface", member.interface),
                    ("MemberName", member.name),
                ],
            )
        else:
            leg.dialing = al
            ch.app, ch.appdata = "Dial", f"Local/{ext}@agents/n"
        self.dial_begin(ch, one, f"{ext}@agents/n")
        if entry is not None:
            one.exten = ch.exten  # app_queue dials with the caller's extension (queue or number)
        phone.legs.append(al)
        plan = phone.plan_ring(two.variables, self.rng)
        if plan.reject_after is not None:
            al.timers.append(self.later(plan.reject_after, self._agent_rejects, al))
        elif plan.answer_after is not None:
            al.timers.append(self.later(plan.answer_after, self._agent_answers, al))
        return al

    def _member_status(self, phone: AgentPhone) -> None:
        """The agent's device changed state: every queue that has it as a member says so."""
        in_call = phone.in_call()
        for q in self.queues.values():
            m = q.members.get(f"Local/{phone.extension}@agents/n")
            if m is not None:
                status = 0 if m.state_interface.startswith("Custom:") else (2 if in_call else 1)
                self.event("QueueMemberStatus", "agent", m.blob(status, in_call))

    def _agent_answers(self, al: AgentLeg) -> None:
        if al.done:
            return
        leg = al.leg
        entry = al.entry
        one, two = al.one, al.two
        al.answered = True
        if entry is not None:  # app_queue answers, then updates the connected line
            one.exten = leg.ch.exten
            one.con_num, one.con_name = leg.ch.cid_num, leg.ch.cid_name
            self.set_state(one, UP)
            self.set_connected(one, leg.ch.cid_num, leg.ch.cid_name)
        else:
            self.set_state(one, UP)
        self.set_state(two, UP)
        two.app, two.appdata, two.priority = "Wait", "", 5
        self.dial_end(leg.ch, one, "ANSWER")
        if entry is not None:
            self._queue_connect(entry, al)
        else:
            leg.dialing = None
        al.connected_at = self.now
        b = self.bridge_create()
        if entry is None:
            one.exten = ""  # the Dial()ed Local ;1 enters the bridge with no extension
        self.bridge_enter(b, one)
        self.bridge_enter(b, leg.ch)
        leg.bridge = b
        leg.peer = al
        self._member_status(al.phone)
        plan = al.phone.plan_talk(two.variables, self.rng)
        two.appdata = str(int(plan.duration)) if plan.duration is not None else ""
        if plan.duration is not None:
            if plan.agent_hangs_up or leg.outside is None:
                al.timers.append(self.later(ANSWER_DELAY + plan.duration, self.agent_hangup, al, 16))
            else:
                al.timers.append(self.later(ANSWER_DELAY + plan.duration, self.outside_hangup, leg, 16))

    def _agent_rejects(self, al: AgentLeg) -> None:
        """A NOANSWER phone rejects the call as busy after ringing."""
        if al.done:
            return
        self.set_state(al.two, BUSY)
        self._agent_ring_failed(al, "BUSY", 17)

    def _agent_ring_failed(
        self, al: AgentLeg, status: str, cause_two: int, continue_leg: bool = True
    ) -> None:
        """A ringing agent leg ends without an answer: BUSY (rejected), NOANSWER (queue timeout) or CANCEL."""
        if al.done:
            return
        al.done = True
        al.cancel_timers()
        leg, entry = al.leg, al.entry
        ring_ms = round((self.now - (entry.attempt_start if entry else al.started)) * 1000)
        if entry is not None and al.member is not None and status in ("BUSY", "NOANSWER"):
            if status == "NOANSWER":
                self._ring_no_answer_event(al, ring_ms)
                self.dial_end(leg.ch, al.one, "NOANSWER")
                self.dial_end(leg.ch, al.one, "CANCEL")
            else:
                self.dial_end(leg.ch, al.one, status)
                self._ring_no_answer_event(al, ring_ms)
            self.queue_log.write(
                self.now, leg.ch.uniqueid, entry.queue.name, al.member.name, "RINGNOANSWER", ring_ms
            )
        else:
            self.dial_end(leg.ch, al.one, status)
            if entry is not None and status == "CANCEL":  # app_queue and the Dial core both report it
                self.dial_end(leg.ch, al.one, status)
            if entry is not None and al.member is not None:
                self.queue_log.write(
                    self.now, leg.ch.uniqueid, entry.queue.name, al.member.name, "RINGCANCELED", ring_ms
                )
        al.one.con_num, al.one.con_name = leg.ch.cid_num, leg.ch.cid_name
        self.hangup_event(al.one, 0)
        # core_local updates the dead ;1's connected line as it unwinds: a real artefact, kept
        self._chan_event("NewConnectedLine", al.one)
        self.hangup_event(al.two, cause_two if status == "BUSY" else 0)
        al.phone.legs.remove(al)
        if entry is not None:
            if al in entry.ringing:
                entry.ringing.remove(al)
            if continue_leg and status == "BUSY" and not entry.done and entry.in_attempt:
                self._ring_next(entry)
            self.schedule_dispatch()
        elif continue_leg and leg.dialing is al:
            leg.dialing = None
            self.leg_hangup(leg, 16)

    def _ring_no_answer_event(self, al: AgentLeg, ring_ms: int) -> None:
        entry, member = al.entry, al.member
        assert entry is not None and member is not None
        self.event(
            "AgentRingNoAnswer",
            "agent",
            [
                *al.leg.ch.snapshot(),
                *al.one.snapshot("Dest"),
                ("Queue", entry.queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("RingTime", str(ring_ms)),
            ],
        )

    def agent_hangup(self, al: AgentLeg, cause: int) -> None:
        """The agent ends an answered call (its phone hangs up, or the CTI hangs up the agent channel)."""
        if al.done:
            return
        leg = al.leg
        al.done = True
        al.cancel_timers()
        self.hangup_event(al.two, cause)
        al.phone.legs.remove(al)
        self._member_status(al.phone)
        b = leg.bridge
        self.bridge_leave(al.one)
        self.hangup_event(al.one, cause)
        self._complete(leg, al, "agent")
        leg.peer = None
        if b is not None:
            self.bridge_leave(leg.ch)
            self.event("BridgeDestroy", "call", b.snapshot())
            leg.bridge = None
        self.leg_hangup(leg, cause)

    def _end_talk(self, leg: Leg, reason: str, cause: int) -> None:
        """The caller's side ends a bridged call (order as in the transcripts' COMPLETECALLER calls)."""
        al = leg.peer
        assert al is not None
        leg.done = True
        leg.cancel_timers()
        al.done = True
        al.cancel_timers()
        self._complete(leg, al, reason)
        leg.peer = None
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause)
        b = leg.bridge
        self.bridge_leave(leg.ch)
        self.bridge_leave(al.one)
        self.hangup_event(al.two, cause)
        self.hangup_event(al.one, cause)
        self.hangup_event(leg.ch, cause)
        if b is not None:
            self.event("BridgeDestroy", "call", b.snapshot())
            leg.bridge = None
        al.phone.legs.remove(al)
        self._member_status(al.phone)
        self.schedule_dispatch()

    def _complete(self, leg: Leg, al: AgentLeg, reason: str, transfer: tuple[str, str] | None = None) -> None:
        entry = leg.queue_connect
        if entry is None or al.member is None:
            return
        leg.queue_connect = None
        q, m = entry.queue, al.member
        hold = int(al.connected_at) - int(entry.joined)
        talk = int(self.now) - int(al.connected_at)
        # The Dest block is the agent channel's last snapshot; real Asterisk drops it now and then when
        # the agent hung up first (a race: 01 lacks it, 07 and 102 of 108 in mixed-seed1 carry it).
        h = [*leg.ch.snapshot(), *al.one.snapshot("Dest")]
        self.event(
            "AgentComplete",
            "agent",
            [
                *h,
                ("Queue", q.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("HoldTime", str(hold)),
                ("TalkTime", str(talk)),
                ("Reason", reason),
            ],
        )
        if transfer is not None:
            self.queue_log.write(
                self.now,
                leg.ch.uniqueid,
                q.name,
                m.name,
                "BLINDTRANSFER",
                transfer[1],
                transfer[0],
                hold,
                talk,
                entry.original_position,
            )
        else:
            event = "COMPLETEAGENT" if reason == "agent" else "COMPLETECALLER"
            self.queue_log.write(
                self.now, leg.ch.uniqueid, q.name, m.name, event, hold, talk, entry.original_position
            )
        m.calls_taken += 1
        m.last_call = float(int(self.now))  # time_t: whole seconds, so equal last calls tie
        # app_queue compares whole seconds: time(NULL) - wrapuptime < lastcall
        m.wrapup_until = float(int(self.now) + int(q.spec.wrapuptime)) if q.spec.wrapuptime else 0.0
        q.completed += 1
        if hold <= q.spec.servicelevel:
            q.completed_in_sl += 1
        q.record_talk(talk)

    # ------------------------------------------------------------------ transfers
    def blind_transfer(self, ch: Channel, context: str, exten: str) -> None:
        leg = ch.owner
        if isinstance(leg, Leg) and ch is leg.ch and leg.peer is None and not leg.done:
            self.redirect(ch, context, exten, 1)  # not bridged: a blind transfer is an async goto
            return
        al = ch.owner
        if not isinstance(al, AgentLeg) or not al.answered or al.done or ch is not al.one:
            raise ActionError("Transfer failed")
        leg = al.leg
        b = leg.bridge
        if b is None:
            raise ActionError("Transfer failed")
        self.event(
            "BlindTransfer",
            "call",
            [
                ("Result", "Success"),
                *[("Transferer" + k, v) for k, v in ch.snapshot()],
                *[("Transferee" + k, v) for k, v in leg.ch.snapshot()],
                *b.snapshot(),
                ("IsExternal", "Yes"),
                ("Context", context),
                ("Extension", exten),
            ],
        )
        self._complete(leg, al, "transfer", (context, exten))
        al.done = True
        al.cancel_timers()
        leg.peer = None
        leg.bridge = None
        leg.ch.context, leg.ch.exten, leg.ch.priority = context, exten, 1
        self.bridge_leave(leg.ch)
        self.run_dialplan(leg)
        self.bridge_leave(al.one)
        self.event("BridgeDestroy", "call", b.snapshot())
        self.hangup_event(al.one, 16)
        self.hangup_event(al.two, 16)
        al.phone.legs.remove(al)
        self._member_status(al.phone)
        self.schedule_dispatch()

    def redirect(self, ch: Channel, context: str, exten: str, priority: int) -> None:
        leg = ch.owner
        if not isinstance(leg, Leg) or ch is not leg.ch or leg.done:
            raise ActionError("Redirect failed")
        if ch.state != UP:
            raise ActionError("Redirect failed, channel not up.")
        if leg.after is not None:  # the channel leaves the dialplan it was running
            leg.after.cancel()
            leg.after = None
        if leg.entry is not None:
            self._queue_abandon(leg.entry)
        if leg.dialing is not None:
            self._agent_ring_failed(leg.dialing, "CANCEL", 0, continue_leg=False)
            leg.dialing = None
        if leg.peer is not None:
            al = leg.peer
            b = leg.bridge
            self._complete(leg, al, "transfer", (context, exten))
            leg.peer = None
            leg.bridge = None
            al.done = True
            al.cancel_timers()
            self.bridge_leave(ch)
            self.bridge_leave(al.one)
            if b is not None:
                self.event("BridgeDestroy", "call", b.snapshot())
            self.hangup_event(al.one, 16)
            self.hangup_event(al.two, 16)
            al.phone.legs.remove(al)
            self._member_status(al.phone)
        ch.context, ch.exten, ch.priority = context, exten, priority
        self.run_dialplan(leg)
        self.schedule_dispatch()

    # ------------------------------------------------------------------ queues
    def _available(self, m: Member) -> bool:
        phone = self.phones.get(m.extension)
        if phone is None or m.paused or self.now < m.wrapup_until:
            return False
        return not phone.in_use()

    def _empty(self, q: Queue, conditions: frozenset[str]) -> bool:
        """True when no member could take a call under the joinempty/leavewhenempty conditions."""
        if not conditions:
            return False
        for m in q.members.values():
            phone = self.phones.get(m.extension)
            if phone is None:
                if "invalid" in conditions or "unavailable" in conditions:
                    continue
                return False
            if m.paused and "paused" in conditions:
                continue
            if phone.in_call() and "inuse" in conditions:
                continue
            if phone.in_use() and not phone.in_call() and "ringing" in conditions:
                continue
            if self.now < m.wrapup_until and "wrapup" in conditions:
                continue
            return False
        return True

    def queue_join(self, leg: Leg, q: Queue, maxwait: float) -> None:
        ch = leg.ch
        ch.app, ch.appdata = "Queue", f"{q.name},t,,,{int(maxwait)}"
        if self._empty(q, q.spec.joinempty):
            self.set_var(ch, "QUEUESTATUS", "JOINEMPTY")
            self._after_queue(leg, "JOINEMPTY")
            return
        entry = QueueEntry(q, leg, self.now, len(q.entries) + 1, maxwait)
        q.entries.append(entry)
        leg.entry = entry
        self.event(
            "QueueCallerJoin",
            "agent",
            [
                *ch.snapshot(),
                ("Queue", q.name),
                ("Position", str(entry.position)),
                ("Count", str(len(q.entries))),
            ],
        )
        self.queue_log.write(
            self.now, ch.uniqueid, q.name, "NONE", "ENTERQUEUE", "", ch.cid_num or "", entry.position
        )
        entry.timers.append(self.later(maxwait, self._queue_timeout, entry))
        self.schedule_dispatch()

    def schedule_dispatch(self) -> None:
        if self._dispatch_timer is None:
            self._dispatch_timer = self.later(0.0, self._dispatch)

    def _dispatch(self) -> None:
        """Let waiting callers ring, as app_queue's queue_exec loop does.

        The caller at the head (every caller, with autofill) either rings (an attempt) or waits
        ``retry`` seconds between tries: a member who frees up is noticed at the next try, not at
        once. A caller behind the head checks its turn every second (RECHECK) from when it joined.
        """
        self._dispatch_timer = None
        for q in self.queues.values():
            for idx, entry in enumerate(list(q.entries)):
                if entry.done or entry.in_attempt:
                    continue
                if idx > 0 and not q.spec.autofill:
                    break  # autofill = no: only the caller at the head of the queue rings
                if not entry.head:
                    entry.head = True
                    if self.now > entry.joined:  # it waited its turn: noticed on its 1 s grid
                        k = math.ceil(round((self.now - entry.joined) / RECHECK, 6))
                        entry.next_poll = entry.joined + k * RECHECK
                if self._empty(q, q.spec.leavewhenempty):
                    self._queue_exit(entry, "LEAVEEMPTY", "EXITEMPTY")
                    continue
                if entry.next_poll > self.now:
                    self._poll_at(entry)
                    continue
                if any(self._available(m) for m in q.members.values()):
                    self._start_attempt(entry)
                else:
                    entry.next_poll = self.now + q.spec.retry
                    self._poll_at(entry)

    def _poll_at(self, entry: QueueEntry) -> None:
        if (
            entry.poll_timer is None
            or entry.poll_timer.when != round(entry.next_poll, 6)
            or entry.poll_timer.cancelled
        ):
            if entry.poll_timer is not None:
                entry.poll_timer.cancel()
            entry.poll_timer = self.timeline.call_at(entry.next_poll, self.schedule_dispatch)

    def _start_attempt(self, entry: QueueEntry) -> None:
        entry.in_attempt = True
        entry.attempt_start = self.now
        entry.tried = set()
        entry.timers.append(self.later(entry.queue.spec.timeout, self._attempt_timeout, entry))
        self._ring_next(entry)

    def _ring_next(self, entry: QueueEntry) -> None:
        q = entry.queue
        cands = [m for m in q.members.values() if m.interface not in entry.tried and self._available(m)]
        if not cands:
            if not entry.ringing:
                self._end_attempt(entry)
            return
        ordered = order_candidates(q, cands, self.rng)
        chosen = (
            [m for m in ordered if m.penalty == ordered[0].penalty]
            if q.spec.strategy == "ringall"
            else ordered[:1]
        )
        for m in chosen:
            entry.tried.add(m.interface)
            al = self.dial_agent(entry.leg, self.phones[m.extension], entry, m)
            entry.ringing.append(al)

    def _end_attempt(self, entry: QueueEntry) -> None:
        entry.in_attempt = False
        for t in entry.timers[1:]:
            t.cancel()  # type: ignore[attr-defined]
        del entry.timers[1:]
        entry.next_poll = self.now + entry.queue.spec.retry
        self._poll_at(entry)

    def _attempt_timeout(self, entry: QueueEntry) -> None:
        if entry.done or not entry.in_attempt:
            return
        for al in list(entry.ringing):
            self._agent_ring_failed(al, "NOANSWER", 0)
        entry.ringing.clear()
        self._end_attempt(entry)

    def _queue_connect(self, entry: QueueEntry, al: AgentLeg) -> None:
        q, leg, m = entry.queue, entry.leg, al.member
        assert m is not None
        for other in list(entry.ringing):
            if other is not al:
                self._agent_ring_failed(other, "CANCEL", 0, continue_leg=False)
        entry.ringing.clear()
        pos = entry.position
        self._queue_remove(entry)
        ch = leg.ch
        self.event(
            "QueueCallerLeave",
            "agent",
            [*ch.snapshot(), ("Queue", q.name), ("Position", str(pos)), ("Count", str(len(q.entries)))],
        )
        hold = int(self.now) - int(entry.joined)
        ring = int(self.now) - int(al.started)
        self.event(
            "AgentConnect",
            "agent",
            [
                *ch.snapshot(),
                *al.one.snapshot("Dest"),
                ("Queue", q.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("HoldTime", str(hold)),
                ("RingTime", str(ring)),
            ],
        )
        self.queue_log.write(self.now, ch.uniqueid, q.name, m.name, "CONNECT", hold, al.one.uniqueid, ring)
        q.record_hold(hold)
        if q.spec.strategy == "rrmemory":
            q.rr_last = m.order
        leg.queue_connect = entry

    def _queue_remove(self, entry: QueueEntry) -> None:
        entry.done = True
        for t in entry.timers:
            t.cancel()  # type: ignore[attr-defined]
        entry.timers.clear()
        entry.queue.entries.remove(entry)
        entry.leg.entry = None

    def _cancel_ringing(self, entry: QueueEntry) -> None:
        for al in list(entry.ringing):
            self._agent_ring_failed(al, "CANCEL", 0, continue_leg=False)
        entry.ringing.clear()

    def _queue_abandon(self, entry: QueueEntry) -> None:
        """The caller left the queue (hung up or was redirected): Abandon, then Leave."""
        self._leave_queue_unanswered(entry, "ABANDON")
        self.schedule_dispatch()

    def _queue_timeout(self, entry: QueueEntry) -> None:
        if not entry.done:
            self._queue_exit(entry, "TIMEOUT", "EXITWITHTIMEOUT")

    def _queue_exit(self, entry: QueueEntry, status: str, log_event: str) -> None:
        """Queue() returns without an agent: its own timeout, or leavewhenempty."""
        leg = entry.leg
        self._leave_queue_unanswered(entry, log_event)
        self.set_var(leg.ch, "QUEUESTATUS", status)
        self._after_queue(leg, status)
        self.schedule_dispatch()

    def _leave_queue_unanswered(self, entry: QueueEntry, log_event: str) -> None:
        """app_queue's exit without an agent: QueueCallerAbandon then QueueCallerLeave (Asterisk sends
        Abandon for timeouts and empty-queue exits too), and the queue_log line that tells them apart."""
        self._cancel_ringing(entry)
        q, ch = entry.queue, entry.leg.ch
        pos = entry.position
        wait = int(self.now) - int(entry.joined)
        self._queue_remove(entry)
        self.event(
            "QueueCallerAbandon",
            "agent",
            [
                *ch.snapshot(),
                ("Queue", q.name),
                ("Position", str(pos)),
                ("OriginalPosition", str(entry.original_position)),
                ("HoldTime", str(wait)),
            ],
        )
        self.event(
            "QueueCallerLeave",
            "agent",
            [*ch.snapshot(), ("Queue", q.name), ("Position", str(pos)), ("Count", str(len(q.entries)))],
        )
        self.queue_log.write(
            self.now, ch.uniqueid, q.name, "NONE", log_event, pos, entry.original_position, wait
        )
        q.abandoned += 1
        if wait <= q.spec.servicelevel:
            q.abandoned_in_sl += 1

    # ------------------------------------------------------------------ members
    def find_members(self, interface: str, queue: str | None) -> list[Member]:
        """The interface's memberships (in ``queue`` only, when given). An unknown queue has none:
        app_queue answers "Interface not found" (QueuePause) or "Invalid interface, queuename or
        penalty" (QueuePenalty) then, as for an unknown interface."""
        if queue:
            q = self.queues.get(queue)
            qs = [q] if q is not None else []
        else:
            qs = list(self.queues.values())
        return [q.members[interface] for q in qs if interface in q.members]

    def member_event(self, name: str, m: Member) -> None:
        phone = self.phones.get(m.extension)
        in_call = phone.in_call() if phone is not None else False
        if m.state_interface.startswith("Custom:") or phone is None:
            status = 0
        else:
            status = 2 if in_call else 1
        self.event(name, "agent", m.blob(status, in_call))

    def queue_add(
        self,
        queue: str,
        interface: str,
        member_name: str,
        penalty: int,
        paused: bool,
        reason: str,
        state_interface: str,
    ) -> None:
        q = self.queues.get(queue)
        if q is None:
            raise ActionError("Unable to add interface to queue: No such queue")
        if interface in q.members:
            raise ActionError("Unable to add interface: Already there")
        ext = interface.split("/", 1)[-1].split("@", 1)[0]
        m = Member(
            q,
            interface,
            member_name or interface,
            ext,
            penalty=penalty,
            dynamic=True,
            state_interface=state_interface,
            paused=paused,
            paused_reason=reason if paused else "",
            login_time=self.now,
        )
        q.add_member(m)
        self.member_event("QueueMemberAdded", m)
        self.queue_log.write(self.now, "MANAGER", q.name, m.name, "ADDMEMBER", "")
        self.schedule_dispatch()

    def queue_remove(self, queue: str, interface: str) -> None:
        q = self.queues.get(queue)
        if q is None:
            raise ActionError("Unable to remove interface from queue: No such queue")
        m = q.members.get(interface)
        if m is None:
            raise ActionError("Unable to remove interface: Not there")
        if not m.dynamic:
            raise ActionError("Member not dynamic")
        del q.members[interface]
        self.member_event("QueueMemberRemoved", m)
        self.queue_log.write(self.now, "MANAGER", q.name, m.name, "REMOVEMEMBER", "")

    def queue_pause(self, interface: str, paused: bool, queue: str | None, reason: str) -> None:
        members = self.find_members(interface, queue)
        if not members:
            raise ActionError("Interface not found")
        if not queue:
            self.queue_log.write(
                self.now,
                "NONE",
                "NONE",
                members[0].name,
                "PAUSEALL" if paused else "UNPAUSEALL",
                reason if paused else "",
            )
        for m in members:
            m.paused = paused
            m.paused_reason = reason if paused else ""
            if paused:
                m.last_pause = self.now
            self.member_event("QueueMemberPause", m)
            self.queue_log.write(
                self.now,
                "NONE",
                m.queue.name,
                m.name,
                "PAUSE" if paused else "UNPAUSE",
                reason if paused else "",
            )
        self.schedule_dispatch()

    def queue_penalty(self, interface: str, penalty: int, queue: str | None) -> None:
        members = self.find_members(interface, queue)
        if not members:
            raise ActionError("Invalid interface, queuename or penalty")
        for m in members:
            m.penalty = penalty
            self.member_event("QueueMemberPenalty", m)
            self.queue_log.write(self.now, "NONE", m.queue.name, interface, "PENALTY", penalty)


def _float(value: str | None, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


__all__ = ["RING", "ActionError", "AgentLeg", "Leg", "Pbx"]
