"""Warm (attended) transfer and three-way conferences: the AMI ``Atxfer`` feature and ``ConfBridge()``.

Attended transfer (main/bridge_basic.c's state machine, with features.conf's defaults):

1. ``Atxfer`` on the agent's channel (the transferer, bridged with the customer, the transferee): the
   transferer's bridge channel writes a hold (``Hold`` on the transferer, ``MusicOnHoldStart`` on the
   transferee); ``dial_transfer`` requests ``Local/<exten>@<context>`` (its ``;1`` gets TRANSFERERNAME and
   ATTENDEDTRANSFER, the transferer's caller id as its connected line, the transferer's Linkedid); a new
   basic bridge is created, the ``;1`` (the transfer target) imparted into it and the transferer moved
   from the customer's bridge into it (calling target). The ``;2`` runs the dialplan:
   ``cti-consult,<ext>`` dials the colleague's phone (``Dial(...,20)``, then ``Hangup()``),
   ``cti-consult-dial,<number>`` the public network (the sim folds that Dial into the ``;2``: the
   number's last digit decides, as in the ``pstn`` context).
2. The target answers: the ``;2`` and ``;1`` go up (consulting).
3. Complete: the transferer hangs up (an AMI Hangup of its channel, or its phone): ``MusicOnHoldStop``
   on the transferee, the target bridge merged into the customer's one (the ``;1`` moves, the transferer
   is kicked), ``AttendedTransfer`` (DestType Bridge), app_queue's ``AgentComplete`` (Reason transfer)
   and ``ATTENDEDTRANSFER|BRIDGE|<bridge>|hold|talk|pos``, the target bridge destroyed, the transferer
   hung up. The Local pair then optimises itself away: the colleague's channel takes the ``;1``'s place
   next to the customer. Before the answer (blond transfer) the customer waits in the merged bridge for
   the answer; a target that then fails leaves the customer alone, who hangs up (no recall).
4. Cancel: the target's ``;1`` is hung up (or the colleague hangs up, or the Dial fails, or nobody
   answers within atxfernoanswertimeout, 15 s): the transferer is moved back (``Unhold``,
   ``MusicOnHoldStop``), the target bridge destroyed; no AttendedTransfer event.
5. The customer hanging up: while the target is still called (calling target) everything ends
   (``TRANSFER_FAIL``: the target bridge is destroyed, the transferer and the target hung up); once the
   target answered (consulting), consulting_exit's "one-of-a-kind event": the target bridge becomes a
   normal one and stays, the agent and the colleague go on talking (app_queue's ``AgentComplete`` Reason
   caller, the customer's bridge destroyed, no AttendedTransfer); the first of the two to hang up
   dissolves the bridge (a basic bridge's hangup dissolves it) and the other is hung up.

ConfBridge (apps/confbridge): ``cti-conference,<room>`` runs ``ConfBridge(${EXTEN})``. The first member
creates the bridge (BridgeCreate, ``ConfbridgeStart``); each member's BridgeEnter is followed by
``ConfbridgeJoin`` (Conference, the bridge block, the channel block, Admin: No), its BridgeLeave by
``ConfbridgeLeave``; the last one out gives ``ConfbridgeEnd`` and BridgeDestroy. A member leaving
(``ConfbridgeKick`` or a hangup) continues its dialplan: ``Hangup()``. Channels reach it by Redirect
(the customer and the agent together: Redirect with ExtraChannel; the consultation's target ``;1``) or
by an Originate into the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.sim import pstn as pstn_model
from cti.sim.channels import UP, Bridge, Channel, Headers, inheritable
from cti.sim.legs import ActionError, AgentLeg, Leg
from cti.sim.pbx_core import PbxCore
from cti.sim.timeline import Timer

CONSULT_CONTEXT = "cti-consult"  # exten => _X.,1,Dial(PJSIP/${EXTEN},20) / n,Hangup()
CONSULT_DIAL_CONTEXT = "cti-consult-dial"  # exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,30) / n,Hangup()
CONFERENCE_CONTEXT = "cti-conference"  # exten => _X.,1,ConfBridge(${EXTEN}) / n,Hangup()
QUEUE_CONTEXT = "inbound"  # exten => <queue>,1,...,Queue(<queue>,t): a queue as a warm transfer's target
ATXFER_NOANSWER = 15.0  # features.conf atxfernoanswertimeout (default 15 s)
CONSULT_RING = 20.0  # cti-consult's Dial(...,20)
MOH_CLASS = "default"


@dataclass(eq=False, slots=True)
class Consultation:
    leg: Leg  # the customer's leg: leg.ch is the transferee
    al: AgentLeg  # the transferer's agent leg: al.one is the transferer
    orig: Bridge  # the customer's bridge (transferee bridge)
    bridge: Bridge  # the target bridge
    one: Channel  # Local/<exten>@<context>;1, the transfer target
    target: Leg  # the ;2 running the consultation's dialplan
    state: str = "calling"  # calling, consulting, completed, stranded (the customer left), over
    timer: Timer | None = None


@dataclass(eq=False, slots=True)
class Conference:
    room: str
    bridge: Bridge
    members: list[Channel] = field(default_factory=list)


class Consult(PbxCore):
    # ------------------------------------------------------------------ state
    @property
    def consultations(self) -> list[Consultation]:
        return self.__dict__.setdefault("_consultations", [])  # type: ignore[no-any-return]

    @property
    def conferences(self) -> dict[str, Conference]:
        return self.__dict__.setdefault("_conferences", {})  # type: ignore[no-any-return]

    def _live(self) -> list[Consultation]:
        return [c for c in self.consultations if c.state in ("calling", "consulting")]

    @staticmethod
    def _stop_timer(c: Consultation) -> None:
        if c.timer is not None:
            c.timer.cancel()
            c.timer = None

    def _agent_leg_over(self, al: AgentLeg, cause: int) -> None:
        """The agent's leg ends (its phone side hangs up, the member is free for app_queue)."""
        al.done = True
        al.cancel_timers()
        self.hangup_event(al.two, cause)
        al.phone.legs.remove(al)
        self._member_status(al.phone)

    def _moh(self, ch: Channel, start: bool) -> None:
        extra: Headers = [("Class", MOH_CLASS)] if start else []
        self._chan_event("MusicOnHoldStart" if start else "MusicOnHoldStop", ch, extra)

    def _leave(self, ch: Channel) -> None:
        """``ch`` leaves its bridge; a basic bridge left empty is destroyed."""
        b = ch.bridge
        self.bridge_leave(ch)
        if b is not None and not b.channels and b.kind[0] == "basic":
            self.event("BridgeDestroy", "call", b.snapshot())

    # ------------------------------------------------------------------ Atxfer
    def atxfer(self, ch: Channel, context: str, exten: str) -> None:
        """The Atxfer action's DTMF reached the transferer's bridge channel (see the module's rule 1)."""
        al = ch.owner
        if not isinstance(al, AgentLeg) or not al.answered or al.done or ch is not al.one:
            return  # the feature's digits reach no bridge: nothing happens (the action still succeeded)
        leg = al.leg
        orig = leg.bridge
        if orig is None or leg.peer is not al or ch.bridge is not orig:
            return
        if any(c.al is al or c.leg is leg for c in self._live()):
            return  # the bridge is merge-inhibited: "does not permit merging at this time"
        self._chan_event("Hold", ch, [("MusicClass", MOH_CLASS)])
        self._moh(leg.ch, True)
        if not self._consult_exists(context, exten):  # grab_transfer: pbx-invalid, then unhold
            self._chan_event("Unhold", ch)
            self._moh(leg.ch, False)
            return
        one, two = self.channels.create_local_pair(exten, context, self.now, ch.linkedid)
        inherited = inheritable(ch.variables)
        one.variables.update(inherited)
        two.variables.update(inherited)
        self._chan_event("Newchannel", one)
        self._chan_event("Newchannel", two)
        self.set_var(one, "TRANSFERERNAME", ch.name)
        self.set_var(one, "ATTENDEDTRANSFER", ch.name)
        self.set_connected(one, ch.cid_num, ch.cid_name)  # copy_caller_data
        two.con_num, two.con_name = ch.cid_num, ch.cid_name
        self.set_callerid(two, ch.cid_num, ch.cid_name)
        self.local_bridge_event(one, two)
        b = self.bridge_create()
        target = Leg(two, None, (context, exten, 1))
        c = Consultation(leg, al, orig, b, one, target)
        one.owner, two.owner = c, target
        self.consultations.append(c)
        self.bridge_enter(b, one)  # ast_bridge_impart of the transfer target
        self.bridge_leave(ch)  # calling_target_enter: the transferer moves to the target bridge
        self.bridge_enter(b, ch)
        c.timer = self.later(ATXFER_NOANSWER, self._consult_timeout, c)
        self._consult_dial(c)

    def _consult_exists(self, context: str, exten: str) -> bool:
        if context == CONSULT_CONTEXT:
            return exten in self.phones
        if context == QUEUE_CONTEXT:  # a queue: the ;2 runs Queue(<queue>) and waits for a colleague
            return exten in self.queues
        return context == CONSULT_DIAL_CONTEXT and exten.lstrip("+").isdigit()

    def _consult_dial(self, c: Consultation) -> None:
        target = c.target
        two = target.ch
        context, exten, _ = target.target
        if context == QUEUE_CONTEXT:  # the queue's members ring as for any caller (app_queue answers)
            two.context, two.exten, two.priority = context, exten, 1
            self.run_dialplan(target)
            return
        if context == CONSULT_CONTEXT:
            two.app, two.appdata = "Dial", f"Local/{exten}@agents/n,{int(CONSULT_RING)}"
            al = self.dial_agent(target, self.phones[exten], None, None)
            target.after = self.later(CONSULT_RING, self._consult_ring_over, target, al)
            target.timers.append(target.after)
            return
        outcome = pstn_model.by_last_digit(exten)
        two.app, two.appdata = "Dial", f"PJSIP/{exten}@trunk,30"
        if outcome.kind in (pstn_model.ANSWER, pstn_model.MACHINE):
            target.timers.append(self.later(outcome.after, self._number_answers, c, outcome))
        elif outcome.kind in (pstn_model.BUSY, pstn_model.CONGESTION):
            cause = 17 if outcome.kind == pstn_model.BUSY else 34
            target.timers.append(self.later(max(outcome.after, 0.5), self.leg_hangup, target, cause))
        # no answer: the atxfer no-answer timeout decides

    def _consult_ring_over(self, target: Leg, al: AgentLeg) -> None:
        target.after = None
        if target.dialing is al:
            self._dial_failed(al, "NOANSWER", 0, 0)

    def _number_answers(self, c: Consultation, outcome: pstn_model.Outcome) -> None:
        if c.target.done:
            return
        self.consult_answered(c.target)
        if outcome.talk is not None:
            c.target.timers.append(self.later(outcome.talk, self.leg_hangup, c.target, 16))

    def consult_answered(self, leg: Leg) -> None:
        """Hook (agent_legs._agent_answers): the consultation's ``;2`` reached someone who answered."""
        c = next((c for c in self.consultations if c.target is leg), None)
        if c is None:
            return
        self.set_state(leg.ch, UP)
        self.set_state(c.one, UP)
        if c.timer is not None:
            c.timer.cancel()
            c.timer = None
        if c.state == "calling":
            c.state = "consulting"
        elif c.state == "completed":  # a blond transfer: the customer waited in the merged bridge
            self.later(0.0, self._optimize, c)

    def _consult_timeout(self, c: Consultation) -> None:
        c.timer = None
        if c.state == "calling":
            self.leg_hangup(c.target, 16)  # the target leg's end (consult_leg_over) rebridges

    def consult_dial_over(self, leg: Leg, status: str) -> bool:
        """Hook (dialplan._after_dial): the consultation's Dial() returned unanswered: ``n,Hangup()``."""
        if not any(c.target is leg for c in self.consultations):
            return False
        self.set_var(leg.ch, "DIALSTATUS", status)
        leg.ch.app, leg.ch.appdata, leg.ch.priority = "Hangup", "", 2
        self.leg_hangup(leg, 16)
        return True

    def consult_transferee_gone(self, leg: Leg, cause: int) -> bool:
        """Hook (dialplan.leg_hangup): the customer hangs up while the agent consults an answered target
        (consulting_exit, STIMULUS_TRANSFEREE_HANGUP): the agent and the target stay in the target bridge."""
        c = next((c for c in self._live() if c.leg is leg and c.state == "consulting"), None)
        al = leg.peer
        if c is None or al is not c.al:
            return False
        c.state = "stranded"
        self._stop_timer(c)
        leg.done = True
        leg.cancel_timers()
        self._complete(leg, al, "caller")  # app_queue: COMPLETECALLER, the agent's queue call is over
        leg.peer = None
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause)
        self.bridge_leave(leg.ch)
        self.hangup_event(leg.ch, cause)
        if not c.orig.channels:
            self.event("BridgeDestroy", "call", c.orig.snapshot())
        leg.bridge = None
        self.schedule_dispatch()
        return True

    def _stranded_over(self, c: Consultation, cause: int) -> None:
        """The agent or the target of a stranded consultation hung up: the basic bridge dissolves."""
        c.state = "over"
        al = c.al
        if not al.done:
            self._agent_leg_over(al, cause)
            self.bridge_leave(al.one)
            self.hangup_event(al.one, cause)
        if not c.one.hungup:
            self.bridge_leave(c.one)
            self.hangup_event(c.one, cause)
        if not c.target.done:
            self.leg_hangup(c.target, cause)
        if c in self.consultations:  # the ;2's end (consult_leg_over) may have taken it already
            self.consultations.remove(c)
        self.event("BridgeDestroy", "call", c.bridge.snapshot())
        self.schedule_dispatch()

    def consult_leg_over(self, leg: Leg, cause: int) -> None:
        """Hook (dialplan.leg_hangup): a leg ended. The consultation's ``;2``: its ``;1`` goes too and,
        still consulting, the transferer goes back to the customer; the customer: the consultation ends."""
        for c in list(self.consultations):
            if c.target is leg and c.state == "stranded":
                self._stranded_over(c, cause)
            elif c.target is leg:
                if not c.one.hungup:
                    self.hangup_event(c.one, cause)
                if c.state in ("calling", "consulting"):
                    self._rebridge(c)
                elif c.state == "completed":  # the callee hung up (or a blond transfer's target failed)
                    c.state = "over"
                    self.leg_hangup(c.leg, 16)
                    self._merged_over(c)
                self.consultations.remove(c)
            elif c.leg is leg and c.state in ("calling", "consulting", "completed"):
                consulting, c.state = c.state != "completed", "over"
                if c.timer is not None:
                    c.timer.cancel()
                if not c.one.hungup:
                    self.hangup_event(c.one, cause)
                self.leg_hangup(c.target, cause)
                if consulting and not c.bridge.channels:  # a completed one's went at the merge
                    self.event("BridgeDestroy", "call", c.bridge.snapshot())
                elif not consulting:
                    self._merged_over(c)
                if c in self.consultations:
                    self.consultations.remove(c)

    def _merged_over(self, c: Consultation) -> None:
        """After a transfer the customer and the ``;1`` shared the customer's bridge: both gone, it goes."""
        if not c.orig.channels and c.leg.bridge is c.orig:
            c.leg.bridge = None
            self.event("BridgeDestroy", "call", c.orig.snapshot())

    def _rebridge(self, c: Consultation) -> None:
        """rebridge_enter: the transferer back in the customer's bridge, off hold."""
        c.state = "over"
        self._stop_timer(c)
        ch = c.al.one
        if ch.hungup or c.leg.done:
            return
        self.bridge_leave(ch)
        self.bridge_enter(c.orig, ch)
        self._chan_event("Unhold", ch)
        self._moh(c.leg.ch, False)
        self.event("BridgeDestroy", "call", c.bridge.snapshot())

    def consult_hangup(self, ch: Channel, cause: int) -> bool:
        """Hook (dialplan.hangup_channel): a Hangup of the consultation's ``;1`` cancels it."""
        c = ch.owner
        if not isinstance(c, Consultation) or ch is not c.one:
            return False
        if c.state == "stranded":
            self._stranded_over(c, cause)
            return True
        self.hangup_event(ch, cause)
        if not c.target.done:
            self.leg_hangup(c.target, cause)  # consult_leg_over rebridges
        return True

    def consult_agent_gone(self, al: AgentLeg, cause: int) -> bool:
        """Hook (agent_legs.agent_hangup): the transferer hangs up during a consultation (complete), or an
        agent in a conference hangs up (only the agent goes)."""
        c = next((c for c in self._live() if c.al is al), None)
        if c is not None:
            self._complete_transfer(c, cause)
            return True
        stranded = next((c for c in self.consultations if c.al is al and c.state == "stranded"), None)
        if stranded is not None:
            self._stranded_over(stranded, cause)
            return True
        if al.one.bridge is not None and al.one.bridge.kind[2] == "ConfBridge":
            self._agent_leg_over(al, cause)
            self.hangup_event(al.one, cause)
            self.schedule_dispatch()
            return True
        return False

    def _complete_transfer(self, c: Consultation, cause: int) -> None:
        """complete_enter / blond_enter (the module's rule 3)."""
        al, leg, orig = c.al, c.leg, c.orig
        answered = c.state == "consulting"
        c.state = "completed"
        self._stop_timer(c)
        self._agent_leg_over(al, cause)
        self.bridge_leave(al.one)
        self._moh(leg.ch, False)  # bridge_unhold(transferee_bridge)
        self.bridge_leave(c.one)  # bridge_merge(transferee_bridge, target_bridge): the target moves
        self.bridge_enter(orig, c.one)
        self.event(
            "AttendedTransfer",
            "call",
            [
                ("Result", "Success"),
                *al.one.snapshot("OrigTransferer"),
                *orig.snapshot("Orig"),
                *al.one.snapshot("SecondTransferer"),
                *c.bridge.snapshot("Second"),
                ("DestType", "Bridge"),
                ("DestBridgeUniqueid", orig.uniqueid),
                ("IsExternal", "No"),
                *leg.ch.snapshot("Transferee"),
                *c.one.snapshot("TransferTarget"),
            ],
        )
        self._complete(leg, al, "transfer", attended=orig.uniqueid)
        self.event("BridgeDestroy", "call", c.bridge.snapshot())
        self.hangup_event(al.one, cause)
        leg.peer = None
        if answered:
            self._optimize(c)
        self.schedule_dispatch()

    def _optimize(self, c: Consultation) -> None:
        """The consultation's Local pair optimises itself away: the target takes the ``;1``'s place."""
        target, leg = c.target, c.leg
        peer = target.peer
        if target.done or leg.done or c.one.hungup or peer is None:
            return  # an outside number: the pair's far end is the callee itself (the sim's pstn), it stays
        two, b2 = target.ch, target.bridge
        swap = peer.one
        blocks = [*c.one.snapshot("LocalOne"), *two.snapshot("LocalTwo")]
        self.event("LocalOptimizationBegin", "call", [*blocks, *swap.snapshot("Source"), ("Id", "0")])
        self.bridge_leave(swap)
        self.bridge_enter(c.orig, swap)
        self.bridge_leave(c.one)
        self.event("LocalOptimizationEnd", "call", [*blocks, ("Success", "Yes"), ("Id", "0")])
        target.done = True
        target.cancel_timers()
        self.bridge_leave(two)
        if b2 is not None:
            self.event("BridgeDestroy", "call", b2.snapshot())
        self.hangup_event(c.one, 16)
        self.hangup_event(two, 16)
        if c in self.consultations:
            self.consultations.remove(c)
        peer.leg = leg
        leg.peer = peer
        leg.bridge = c.orig
        target.peer = None
        target.bridge = None

    # ------------------------------------------------------------------ ConfBridge
    def conference_redirect(self, ch: Channel, context: str, exten: str) -> bool:
        """Hook (dialplan.redirect): a Redirect into ``cti-conference`` of a channel the dialplan alone
        cannot move: a bridged customer, an agent's channel, the consultation's target ``;1``."""
        if context != CONFERENCE_CONTEXT:
            return False
        owner = ch.owner
        if isinstance(owner, Leg) and ch is owner.ch and not owner.done:
            leg = owner
            c = next((c for c in self._live() if c.leg is leg), None)
            if c is not None:  # the transferee leaves: the consultation fails, no event
                c.state = "over"
                if c.timer is not None:
                    c.timer.cancel()
                self._moh(ch, False)
            elif leg.peer is None:
                return False  # not bridged: an ordinary Redirect runs the context
            if leg.peer is not None:
                self._complete(leg, leg.peer, "transfer", (context, exten))
                leg.peer = None
            leg.bridge = None
            self._leave(ch)
            self._join(ch, exten)
            return True
        if isinstance(owner, AgentLeg) and ch is owner.one and owner.answered and not owner.done:
            al = owner
            if al.leg.peer is al:
                self._complete(al.leg, al, "transfer", (context, exten))
                al.leg.peer = None
            self._leave(ch)
            self._join(ch, exten)
            return True
        if isinstance(owner, Consultation) and ch is owner.one and not ch.hungup:
            c = owner
            c.state = "over"
            if c.timer is not None:
                c.timer.cancel()
            self._leave(ch)
            self._join(ch, exten)
            return True
        raise ActionError("Redirect failed")

    def conference_join(self, leg: Leg) -> None:
        """Hook (dialplan.run_dialplan): a leg runs ``cti-conference,<room>``."""
        self._join(leg.ch, leg.ch.exten)

    def _join(self, ch: Channel, room: str) -> None:
        ch.context, ch.exten, ch.priority = CONFERENCE_CONTEXT, room, 1
        ch.app, ch.appdata = "ConfBridge", room
        if ch.state != UP:
            self.set_state(ch, UP)
        conf = self.conferences.get(room)
        if conf is None:
            b = self.bridge_create_kind(("base", "softmix", "ConfBridge", room))
            conf = self.conferences[room] = Conference(room, b)
            self.event("ConfbridgeStart", "call", [("Conference", room), *b.snapshot()])
        conf.members.append(ch)
        self.bridge_enter(conf.bridge, ch)
        body = [("Conference", room), *conf.bridge.snapshot(), *ch.snapshot(), ("Admin", "No")]
        self.event("ConfbridgeJoin", "call", [*body, ("Muted", "No")])

    def bridge_create_kind(self, kind: tuple[str, str, str, str]) -> Bridge:
        b = Bridge(self.channels.new_bridge_id(), kind=kind)
        self.event("BridgeCreate", "call", b.snapshot())
        return b

    def conference_left(self, b: Bridge, ch: Channel) -> None:
        """Hook (pbx_core.bridge_leave): after a member's BridgeLeave."""
        conf = self.conferences.get(b.kind[3])
        if conf is None or conf.bridge is not b or ch not in conf.members:
            return
        conf.members.remove(ch)
        self.event(
            "ConfbridgeLeave",
            "call",
            [("Conference", conf.room), *b.snapshot(), *ch.snapshot(), ("Admin", "No")],
        )
        if not conf.members:
            del self.conferences[conf.room]
            self.event("ConfbridgeEnd", "call", [("Conference", conf.room), *b.snapshot()])
            self.event("BridgeDestroy", "call", b.snapshot())

    def conference_kick(self, room: str, channel: str) -> None:
        """ConfbridgeKick: the member (or ``all``, or ``participants``: every non-admin) leaves; its
        dialplan's next step is ``Hangup()``."""
        conf = self.conferences.get(room)
        if conf is None:
            raise ActionError("No Conference by that name found.")
        if channel in ("all", "participants"):
            chosen = list(conf.members)
        else:
            chosen = [m for m in conf.members if m.name == channel]
            if not chosen:
                raise ActionError("No Channel by that name found in Conference.")
        for ch in chosen:
            if not ch.hungup:
                self.hangup_channel(ch, 16)
