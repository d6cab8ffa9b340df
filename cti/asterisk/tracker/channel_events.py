"""Handlers of channel events: a channel appears, holds, pairs with its Local half, is asked to hang up,
enters a bridge (rule 1: it may take another Linkedid), hangs up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.asterisk import translate as tr
from cti.asterisk.ami import Message
from cti.asterisk.tracker.channels import Channel, device_of
from cti.asterisk.tracker.dispatch import light, on
from cti.core.events import CallHoldChanged, DomainEvent, StreamProblem
from cti.core.frozen import quick_constructor
from cti.core.ids import UniqueId

if TYPE_CHECKING:
    from cti.asterisk.tracker.tracker import CallTracker

_CallHoldChanged = quick_constructor(CallHoldChanged)
_StreamProblem = quick_constructor(StreamProblem)


@on(tr.ChannelEvent, "Newchannel")
def on_newchannel(t: CallTracker, ev: tr.ChannelEvent, out: list[DomainEvent]) -> None:
    ch = t.chan(ev.chan, ev.at)
    c = ev.chan
    if (
        ch is not None
        and c.state == 4  # Ring: a call coming in on a trunk (PJSIP creates inbound channels ringing)
        and c.uniqueid == c.linkedid
        and not c.name.startswith("Local/")
        and not t.roster.is_agent_device(device_of(c.name))
    ):
        t.start(ch.journey, ev.at, out)  # inbound: the screen pop can start at once


@on(tr.ChannelEvent, "Hold", "Unhold")
def on_hold(t: CallTracker, ev: tr.ChannelEvent, out: list[DomainEvent]) -> None:
    ch = t.chan(ev.chan, ev.at)
    if ch is not None:
        set_hold(t, ch, ev.name == "Hold", ev.at, out)


@on(tr.ChannelEvent, "MusicOnHoldStart", "MusicOnHoldStop")
def on_music_on_hold(t: CallTracker, ev: tr.ChannelEvent, out: list[DomainEvent]) -> None:
    """Music on hold on the caller's side of a call an agent is talking on (not in a queue: a waiting
    caller hears it too) is a hold: cti's own hold (a Redirect of the caller to ``cti-hold``, whose
    ``MusicOnHold()`` starts it, docs/design/hold-and-park.md) or a phone's, whose ``Hold`` came first."""
    ch = t.channels.by_uid.get(ev.chan.uniqueid)
    if ch is None or ch.agent is not None:
        return
    j = ch.journey
    on = ev.name == "MusicOnHoldStart"
    if on and (not j.talking or ch.uid in j.open or ch.parked):
        return
    set_hold(t, ch, on, ev.at, out)


def set_hold(t: CallTracker, ch: Channel, on: bool, at: float, out: list[DomainEvent]) -> None:
    """One hold per call: the first channel that shows it holds it (a phone's Hold and the music it
    starts on the other side are one hold, counted once); the hold ends when that channel's ends."""
    j = ch.journey
    if on:
        if ch.hold_since is not None:
            return
        for uid in j.channels:
            other = t.channels.by_uid.get(uid)
            if other is not None and other.hold_since is not None:
                return
        ch.hold_since = at
    elif ch.hold_since is not None:
        j.record.hold_seconds += max(0.0, at - ch.hold_since)
        ch.hold_since = None
    else:
        return
    out.append(_CallHoldChanged(at, t.server, j.record.linkedid, UniqueId(ch.uid), on))


@on(tr.LocalBridgeEvent, "LocalBridge")
def on_local_bridge(t: CallTracker, ev: tr.LocalBridgeEvent, out: list[DomainEvent]) -> None:
    one = t.chan(ev.one, ev.at)
    two = t.chan(ev.two, ev.at)
    if one is not None and two is not None:
        one.partner, two.partner = two.uid, one.uid


# --- light handlers: the commonest channel events need one or two headers, read without splitting ----


@light("Hangup")
def on_hangup(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    uid = msg.peek("Uniqueid")
    if not uid:
        t.problems += 1
        out.append(_StreamProblem(at, t.server, "Hangup: missing Uniqueid"))
        return
    cause = msg.peek("Cause") or "0"
    t.hangup(uid, at, int(cause) if cause.isdigit() else 0, out)


@light("HangupRequest", "SoftHangupRequest")
def on_hangup_request(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    ch = t.channels.by_uid.get(msg.peek("Uniqueid") or "")
    if ch is not None:
        ch.hangup_requested = True


@light("BridgeEnter")
def on_bridge_enter(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    """A basic bridge hands every member the oldest Linkedid: follow it (rule 1)."""
    ch = t.channels.by_uid.get(msg.peek("Uniqueid") or "")
    linkedid = msg.peek("Linkedid")
    if ch is not None and linkedid and linkedid != ch.linkedid:
        t.relink(ch, linkedid)
