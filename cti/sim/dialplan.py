"""The dialplan: what a leg runs in each context, its hangups, Redirect and BlindTransfer."""

from __future__ import annotations

from cti.sim.channels import (
    UP,
    Channel,
)
from cti.sim.legs import ActionError, AgentLeg, Leg, float_var
from cti.sim.pbx_core import PbxCore


class Dialplan(PbxCore):
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
                cwait = float_var(ch.variable("CWAIT"), self.scenario.cwait)
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
            patience = float_var(leg.ch.variable("PATIENCE"), 3600.0)
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
