"""CTI-mode hold and call parking in the simulated PBX: the dual ``Redirect`` to the holding contexts, the
``Bridge`` action that brings the call back, the ``Park`` action with res_parking's lot and events, and
the pick-up of a parked call from ``parkedcalls,<space>``.

Rules (Asterisk 13+: main/manager.c action_redirect and action_bridge, res/parking/parking_manager.c
manager_park, res/parking/parking_bridge.c; config/asterisk/extensions.conf for the contexts):

1. ``Redirect`` with ``ExtraChannel`` of a caller bridged with its agent leg, to ``cti-hold`` /
   ``cti-hold-agent``: both leave the bridge (BridgeLeave, BridgeLeave, BridgeDestroy), the caller runs
   ``MusicOnHold(default)`` (MusicOnHoldStart ``Class: default``), the agent's channel ``Wait()``
   quietly. app_queue sees nothing (no hangup request): the member stays in its call, no AgentComplete
   yet. Reply ``Dual Redirect successful``; a missing ExtraChannel: ``ExtraChannel does not exist: X``.
2. ``Bridge`` (Channel1, Channel2, by name prefix) of a held pair: MusicOnHoldStop, then a new basic
   bridge (BridgeCreate, BridgeEnter Channel1, BridgeEnter Channel2), ``Channels have been bridged``.
   The errors are action_bridge's texts.
3. ``Park`` (Channel, TimeoutChannel, Parkinglot, Timeout in ms): the first free space of the lot
   (701-720), ``BLINDTRANSFER`` set on the parkee to the timeout channel, the parkee leaves its bridge
   for the lot's holding bridge (created on first use), ParkedCall, MusicOnHoldStart. The other party
   stays alone in the old bridge until it hangs up (cti hangs it up: its AgentComplete then comes, as
   COMPLETEAGENT). ``Park successful``; errors: ``Channel not specified``, ``Invalid Timeout value.``,
   ``Channel does not exist: X``, ``Park action failed``.
4. A channel that enters ``parkedcalls,<space>`` (an Originate of an agent's phone there) retrieves the
   parked call: UnParkedCall (Parkee and Retriever blocks), the parkee leaves the lot, both enter a new
   bridge. An empty space: the channel hangs up.
5. The parking timeout: ParkedCallTimeOut, the parkee leaves the lot and dials the parker
   (``park-dial``: ``Dial(<ParkerDialString>,20)``); unanswered, it goes back to the holding extension
   (``inbound,hold,3``, cti routes it again). A parked caller hung up: ParkedCallGiveUp, then its hangup.
6. A hangup of either side of a picked-up call hangs up the other (the pair's dialplan ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.asterisk.ami import Message
from cti.sim.channels import Bridge, Channel, Headers
from cti.sim.legs import AgentLeg, Leg
from cti.sim.timeline import Timer

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx
    from cti.sim.protocol import AmiSession, Handler
    from cti.sim.server import SimServer

HOLD_CONTEXT = "cti-hold"
HOLD_AGENT_CONTEXT = "cti-hold-agent"
PARK_CONTEXT = "parkedcalls"
PARK_DIAL_CONTEXT = "park-dial"
LOT = "default"
SPACES = range(701, 721)  # res_parking.conf parkpos => 701-720
PARKING_TIME = 120.0  # parkingtime (config/asterisk/res_parking.conf)
RING_BACK = 20  # park-dial's Dial() timeout


def _ok(message: str) -> Headers:
    return [("Response", "Success"), ("Message", message)]


def _err(message: str) -> Headers:
    return [("Response", "Error"), ("Message", message)]


def dial_string(channel: str) -> str:
    """ast_channel_name_to_dial_string: ``Local/1006@agents-0000000a;1`` -> ``Local/1006@agents``."""
    name = channel.rsplit(";", 1)[0] if channel.startswith("Local/") else channel
    dash = name.rfind("-")
    return name[:dash] if dash > 0 else name


@dataclass(eq=False, slots=True)
class Parked:
    leg: Leg  # the parkee's leg from now on
    space: int
    parker: str  # ParkerDialString
    since: float
    limit: float
    timer: Timer | None = None


class Holding:
    """Held calls, the parking lot and picked-up calls of one simulated PBX."""

    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.held: dict[str, Leg] = {}  # caller uniqueid -> its leg, on hold
        self.parked: dict[int, Parked] = {}
        # the agent's channels (;1 and ;2) left alone by a park -> (old leg, agent leg, the old bridge)
        self.alone: dict[str, tuple[Leg, AgentLeg, Bridge | None]] = {}
        self.joined: dict[str, list[Channel]] = {}  # uniqueid -> the channels of its picked-up call
        self.lot_bridge: Bridge | None = None
        pbx.contexts[PARK_CONTEXT] = self._retrieve

    # ------------------------------------------------------------------ events
    def _moh(self, ch: Channel, on: bool) -> None:
        extra: Headers = [("Class", "default")] if on else []
        self.pbx.event("MusicOnHoldStart" if on else "MusicOnHoldStop", "call", [*ch.snapshot(), *extra])

    def _parked_event(self, name: str, p: Parked, retriever: Channel | None = None) -> None:
        now = self.pbx.now
        h: Headers = [*p.leg.ch.snapshot("Parkee")]
        if retriever is not None:
            h += retriever.snapshot("Retriever")
        h += [
            ("ParkerDialString", p.parker),
            ("Parkinglot", LOT),
            ("ParkingSpace", str(p.space)),
            ("ParkingTimeout", str(max(0, int(p.since + p.limit) - int(now)))),
            ("ParkingDuration", str(int(now) - int(p.since))),
        ]
        self.pbx.event(name, "call", h)

    # ------------------------------------------------------------------ hold (rule 1) and back (rule 2)
    def hold(self, leg: Leg) -> None:
        pbx = self.pbx
        al, b = leg.peer, leg.bridge
        assert al is not None and b is not None
        ch, agent = leg.ch, al.one
        pbx.bridge_leave(ch)
        pbx.bridge_leave(agent)
        pbx.event("BridgeDestroy", "call", b.snapshot())
        leg.bridge = None
        ch.context, ch.exten, ch.priority = HOLD_CONTEXT, "s", 1
        ch.app, ch.appdata = "MusicOnHold", "default"
        agent.context, agent.exten, agent.priority = HOLD_AGENT_CONTEXT, "s", 1
        agent.app, agent.appdata = "Wait", "3600"
        self._moh(ch, True)
        self.held[ch.uniqueid] = leg

    def unhold(self, leg: Leg, first: Channel) -> None:
        pbx = self.pbx
        al = leg.peer
        assert al is not None
        del self.held[leg.ch.uniqueid]
        self._moh(leg.ch, False)
        b = pbx.bridge_create()
        second = leg.ch if first is al.one else al.one
        pbx.bridge_enter(b, first)
        pbx.bridge_enter(b, second)
        leg.bridge = b

    def held_pair(self, one: Channel, two: Channel) -> Leg | None:
        for ch, other in ((one, two), (two, one)):
            leg = self.held.get(ch.uniqueid)
            if leg is not None and leg.peer is not None and leg.peer.one is other:
                return leg
        return None

    # ------------------------------------------------------------------ park (rule 3)
    def park(self, leg: Leg, timeout_channel: str, limit: float) -> int:
        pbx = self.pbx
        space = next((s for s in SPACES if s not in self.parked), None)
        if space is None:
            raise LookupError("no free space")
        ch = leg.ch
        if timeout_channel:
            pbx.set_var(ch, "BLINDTRANSFER", timeout_channel)
        parkee = self.release(leg)
        if self.lot_bridge is None:
            self.lot_bridge = Bridge(pbx.channels.new_bridge_id())
            pbx.event("BridgeCreate", "call", self._lot_snapshot())
        ch.context, ch.exten, ch.priority = PARK_CONTEXT, str(space), 1
        ch.app, ch.appdata = "Park", ""
        p = Parked(parkee, space, dial_string(timeout_channel), pbx.now, limit)
        self.parked[space] = p
        self._parked_event("ParkedCall", p)
        self.lot_bridge.channels.append(ch)
        ch.bridge = self.lot_bridge
        pbx.event("BridgeEnter", "call", [*self._lot_snapshot(), *ch.snapshot()])
        self._moh(ch, True)
        p.timer = pbx.later(limit, self._timed_out, p)
        return space

    def release(self, leg: Leg) -> Leg:
        """The caller of ``leg`` goes elsewhere (parked, or Redirected while on hold); its agent's
        channel stays, alone in the old bridge or in cti-hold-agent, until it hangs up (rule 3).
        Returns the caller's model leg from now on; the old one stays with the agent's."""
        pbx = self.pbx
        ch, al = leg.ch, leg.peer
        if self.held.pop(ch.uniqueid, None) is not None:
            self._moh(ch, False)
        old = leg.bridge
        pbx.bridge_leave(ch)
        leg.bridge = None
        caller = Leg(ch, leg.outside, leg.target)
        caller.answered = True
        ch.owner = caller
        if leg.outside is not None:
            leg.outside.owner = caller
        leg.done = True
        leg.cancel_timers()
        if al is not None:
            for c in (al.one, al.two):
                self.alone[c.uniqueid] = (leg, al, old)
        return caller

    def _lot_snapshot(self) -> Headers:
        assert self.lot_bridge is not None
        return [
            ("BridgeUniqueid", self.lot_bridge.uniqueid),
            ("BridgeType", "parking"),
            ("BridgeTechnology", "holding_bridge"),
            ("BridgeCreator", "Parking"),
            ("BridgeName", LOT),
            ("BridgeNumChannels", str(len(self.lot_bridge.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]

    def _leave_lot(self, p: Parked) -> None:
        ch = p.leg.ch
        del self.parked[p.space]
        if p.timer is not None:
            p.timer.cancel()
        lot = self.lot_bridge
        if lot is not None and ch in lot.channels:
            lot.channels.remove(ch)
            ch.bridge = None
            self.pbx.event("BridgeLeave", "call", [*self._lot_snapshot(), *ch.snapshot()])
        self._moh(ch, False)

    def parked_of(self, ch: Channel) -> Parked | None:
        return next((p for p in self.parked.values() if p.leg.ch is ch), None)

    # ------------------------------------------------------------------ pick-up (rule 4), timeout (rule 5)
    def _retrieve(self, leg: Leg) -> None:
        pbx = self.pbx
        ch = leg.ch
        ch.app, ch.appdata = "ParkedCall", f"{LOT},{ch.exten}"
        p = self.parked.get(int(ch.exten)) if ch.exten.isdigit() else None
        if p is None:
            pbx.leg_hangup(leg, 16)
            return
        self._parked_event("UnParkedCall", p, ch)
        self._leave_lot(p)
        b = pbx.bridge_create()
        pbx.bridge_enter(b, ch)
        pbx.bridge_enter(b, p.leg.ch)
        pair = [c for c in (ch, leg.outside, p.leg.ch, p.leg.outside) if c is not None]
        for c in pair:
            self.joined[c.uniqueid] = pair
        leg.cancel_timers()

    def _timed_out(self, p: Parked) -> None:
        pbx = self.pbx
        p.timer = None
        if self.parked.get(p.space) is not p:
            return
        self._parked_event("ParkedCallTimeOut", p)
        self._leave_lot(p)
        leg = p.leg
        ext = p.parker.split("/", 1)[-1].split("@", 1)[0]
        phone = pbx.phones.get(ext)
        leg.ch.context, leg.ch.exten, leg.ch.priority = PARK_DIAL_CONTEXT, ext, 1
        if phone is None:
            pbx._after_dial(leg, "CHANUNAVAIL")
            return
        al = pbx.dial_agent(leg, phone, None, None)
        leg.ch.app, leg.ch.appdata = "Dial", f"{p.parker},{RING_BACK}"
        pbx._next_step(leg, float(RING_BACK), pbx._dial_timeout, leg, al)

    # ------------------------------------------------------------------ hangups (rules 3, 5, 6)
    def hangup(self, ch: Channel, cause: int) -> bool:
        """An AMI Hangup of a channel this module looks after; False: not one of them."""
        pbx = self.pbx
        pair = self.joined.get(ch.uniqueid)
        if pair is not None:
            b = next((c.bridge for c in pair if c.bridge is not None), None)
            for c in pair:
                self.joined.pop(c.uniqueid, None)
                if isinstance(c.owner, Leg):
                    c.owner.done = True
                    c.owner.cancel_timers()
            for c in [ch, *(c for c in pair if c is not ch)]:
                pbx.hangup_event(c, cause)
            if b is not None:
                pbx.event("BridgeDestroy", "call", b.snapshot())
            return True
        p = self.parked_of(ch)
        if p is not None:
            self._parked_event("ParkedCallGiveUp", p)
            self._leave_lot(p)
            pbx.leg_hangup(p.leg, cause)
            return True
        alone = self.alone.get(ch.uniqueid)
        if alone is not None:
            self._agent_leaves(*alone, cause)
            return True
        held = self._held_agent(ch)
        if held is not None:  # the agent's side hangs up; the caller stays in cti-hold (cti's to handle)
            assert held.peer is not None
            del self.held[held.ch.uniqueid]
            self._agent_leaves(held, held.peer, None, cause)
            return True
        self.held.pop(ch.uniqueid, None)  # the held caller: its leg's hangup ends the agent's too
        return False

    def _held_agent(self, ch: Channel) -> Leg | None:
        for leg in self.held.values():
            if leg.peer is not None and ch in (leg.peer.one, leg.peer.two):
                return leg
        return None

    def _agent_leaves(self, leg: Leg, al: AgentLeg, b: Bridge | None, cause: int) -> None:
        """The agent's channels hang up, its caller elsewhere: AgentComplete (the agent ended it)."""
        pbx = self.pbx
        for c in (al.one, al.two):
            self.alone.pop(c.uniqueid, None)
        if al.done and leg.peer is not al:
            return
        al.done = True
        al.cancel_timers()
        pbx.hangup_event(al.two, cause)
        if al in al.phone.legs:
            al.phone.legs.remove(al)
        pbx._member_status(al.phone)
        pbx.hangup_event(al.one, cause)
        pbx._complete(leg, al, "agent")
        leg.peer = None
        if b is not None:
            pbx.event("BridgeDestroy", "call", b.snapshot())
        pbx.schedule_dispatch()


# ---------------------------------------------------------------------- the AMI actions
def actions(server: SimServer) -> dict[str, Handler]:
    """``redirect`` (with ExtraChannel), ``bridge``, ``park`` and ``hangup`` (of what this module holds)
    on top of cti.sim.actions' own."""
    from cti.sim import actions as base

    holding = Holding(server.pbx)

    def find(name: str | None) -> Channel | None:
        return server.pbx.channels.find(name or "")

    def redirect(s: AmiSession, m: Message) -> list[Headers]:
        extra = m.get("ExtraChannel")
        if not extra:
            named = find(m.get("Channel"))
            held = holding.held.get(named.uniqueid) if named is not None else None
            if held is None:
                return base.redirect(s, m)
            checked = base.redirect_checks(s, m)
            if isinstance(checked, list):
                return checked
            # a held caller sent elsewhere (a transfer of a held call): its agent stays in cti-hold-agent
            caller = holding.release(held)
            checked[0].context, checked[0].exten, checked[0].priority = (
                m.get("Context") or "",
                m.get("Exten") or "",
                checked[1],
            )
            server.pbx.run_dialplan(caller)
            server.pbx.schedule_dispatch()
            return [_ok("Redirect successful")]
        checked = base.redirect_checks(s, m)
        if isinstance(checked, list):
            return checked
        ch = checked[0]
        other = find(extra)
        if other is None:
            return [_err(f"ExtraChannel does not exist: {extra}")]
        leg = ch.owner
        if not (m.get("Context") == HOLD_CONTEXT and m.get("ExtraContext") == HOLD_AGENT_CONTEXT):
            return base.redirect(s, m)  # any other dual Redirect (a conference: cti.sim.consult_actions)
        if (
            not isinstance(leg, Leg)
            or leg.ch is not ch
            or leg.peer is None
            or leg.peer.one is not other
            or leg.bridge is None
        ):
            return [_err("Secondary redirect failed")]  # the simulator moves a caller and its agent only
        holding.hold(leg)
        return [_ok("Dual Redirect successful")]

    def bridge(s: AmiSession, m: Message) -> list[Headers]:
        one_name, two_name = m.get("Channel1"), m.get("Channel2")
        if not one_name or not two_name:
            return [_err("Missing channel parameter in request")]
        by_prefix = server.pbx.channels.all()
        one = next((c for c in by_prefix if c.name.startswith(one_name)), None)
        if one is None:
            return [_err(f"Channel1 does not exist: {one_name}")]
        two = next((c for c in by_prefix if c.name.startswith(two_name)), None)
        if two is None:
            return [_err(f"Channel2 does not exist: {two_name}")]
        leg = holding.held_pair(one, two)
        if leg is None:
            return [_err(f"Unable to add Channel1 to bridge: {one.name}")]
        holding.unhold(leg, one)
        return [_ok("Channels have been bridged")]

    def park(s: AmiSession, m: Message) -> list[Headers]:
        name = m.get("Channel")
        if not name:
            return [_err("Channel not specified")]
        timeout = (m.get("Timeout") or "").strip()
        limit = PARKING_TIME
        if timeout:
            try:
                ms = int(timeout)
            except ValueError:
                return [_err("Invalid Timeout value.")]
            if ms < 0:
                return [_err("Invalid Timeout value.")]
            if ms > 0:
                limit = float(max(1, ms // 1000))
        ch = find(name)
        if ch is None:
            return [_err(f"Channel does not exist: {name}")]
        lot = m.get("Parkinglot") or LOT
        leg = ch.owner
        if lot != LOT or not isinstance(leg, Leg) or leg.ch is not ch or leg.done or leg.peer is None:
            return [_err("Park action failed")]
        try:
            holding.park(leg, m.get("TimeoutChannel") or m.get("Channel2") or "", limit)
        except LookupError:
            return [_err("Park action failed")]
        return [_ok("Park successful")]

    def hangup(s: AmiSession, m: Message) -> list[Headers]:
        ch = find(m.get("Channel"))
        if ch is not None:
            try:
                cause = int(m.get("Cause") or "16")
            except ValueError:
                cause = 16
            if holding.hangup(ch, cause):
                return [_ok("Channel Hungup")]
        return base.hangup(s, m)

    return {"redirect": redirect, "bridge": bridge, "park": park, "hangup": hangup}
