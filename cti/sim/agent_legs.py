"""Agent legs: a Local/<ext>@agents pair dialled from a queue or from Dial(), its ring, answer, talk
and the end of the call (AgentComplete and the queue_log line)."""

from __future__ import annotations

from cti.sim.agents import AgentPhone
from cti.sim.channels import (
    BUSY,
    UP,
    inheritable,
)
from cti.sim.legs import ANSWER_DELAY, AgentLeg, Leg
from cti.sim.pbx_core import PbxCore
from cti.sim.queues import Member, QueueEntry


class AgentLegs(PbxCore):
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
        self.consult_answered(leg)  # a warm transfer's consultation: its Local pair answers
        if entry is not None:
            self._queue_connect(entry, al)
        else:
            leg.dialing = None
            if leg.after is not None:  # Dial()'s ring timeout
                leg.after.cancel()
                leg.after = None
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
        entry = al.entry
        if entry is None:
            self._dial_failed(al, status, 0, cause_two if status == "BUSY" else 0, continue_leg)
            return
        al.done = True
        al.cancel_timers()
        leg = al.leg
        ring_ms = round((self.now - entry.attempt_start) * 1000)
        if al.member is not None and status in ("BUSY", "NOANSWER"):
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
            if status == "CANCEL":  # app_queue and the Dial core both report it
                self.dial_end(leg.ch, al.one, status)
            if al.member is not None:
                self.queue_log.write(
                    self.now, leg.ch.uniqueid, entry.queue.name, al.member.name, "RINGCANCELED", ring_ms
                )
        al.one.con_num, al.one.con_name = leg.ch.cid_num, leg.ch.cid_name
        self.hangup_event(al.one, 0)
        # core_local updates the dead ;1's connected line as it unwinds: a real artefact, kept
        self._chan_event("NewConnectedLine", al.one)
        self.hangup_event(al.two, cause_two if status == "BUSY" else 0)
        al.phone.legs.remove(al)
        if al in entry.ringing:
            entry.ringing.remove(al)
        if continue_leg and status == "BUSY" and not entry.done and entry.in_attempt:
            self._ring_next(entry)
        self.schedule_dispatch()

    def _dial_failed(
        self, al: AgentLeg, status: str, cause_one: int, cause_two: int, continue_leg: bool = True
    ) -> None:
        """An agent leg Dial()ed from deliver ends unanswered: app_dial's one DialEnd (NOANSWER at the
        timeout, BUSY, CANCEL when the caller left or was redirected, or the status of the phone's
        hangup cause), then the Local pair goes. No NewConnectedLine after the ;1's Hangup here: that
        artefact is app_queue's (mixed-seed1's BUSY in deliver has none).

        The caller's dialplan moves on (``_after_dial``) as soon as Dial() returns. In the sample
        dialplan that is two UserEvents and a Goto, done before the phone's ;2 has hung up (it must
        first notice the soft hangup); the recorded one runs Hangup(), after it (as in mixed-seed1)."""
        if al.done:
            return
        al.done = True
        al.cancel_timers()
        leg = al.leg
        self.dial_end(leg.ch, al.one, status)
        al.one.con_num, al.one.con_name = leg.ch.cid_num, leg.ch.cid_name
        self.hangup_event(al.one, cause_one)
        al.phone.legs.remove(al)
        ours = leg.dialing is al
        if ours:
            leg.dialing = None
            if leg.after is not None:  # the ring timeout
                leg.after.cancel()
                leg.after = None
        go_on = continue_leg and ours
        if go_on and self.scenario.dialplan == "sample":
            self._after_dial(leg, status)
            self.hangup_event(al.two, cause_two)
            return
        self.hangup_event(al.two, cause_two)
        if go_on:
            self._after_dial(leg, status)

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
        if al.done or self.consult_agent_gone(al, cause):
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
        self.consult_leg_over(leg, cause)  # a warm transfer's consultation leg, or its customer
        self.schedule_dispatch()

    def _complete(
        self,
        leg: Leg,
        al: AgentLeg,
        reason: str,
        transfer: tuple[str, str] | None = None,
        attended: str | None = None,
    ) -> None:
        """app_queue's end of a connected call; ``transfer`` (context, exten): a blind transfer or a
        Redirect, ``attended``: the bridge an attended transfer merged into (ATTENDEDTRANSFER|BRIDGE)."""
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
        if attended is not None:
            self.queue_log.write(
                self.now,
                leg.ch.uniqueid,
                q.name,
                m.name,
                "ATTENDEDTRANSFER",
                "BRIDGE",
                attended,
                hold,
                talk,
                entry.original_position,
            )
        elif transfer is not None:
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
