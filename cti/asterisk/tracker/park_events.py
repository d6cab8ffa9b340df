"""Handlers of res_parking's events (Asterisk 12+, res/parking/parking_manager.c): ``ParkedCall`` when a
channel is parked, then one of ``UnParkedCall`` (picked up; the ``Retriever*`` block is the channel that
took it), ``ParkedCallTimeOut`` (the parker is rung back) or ``ParkedCallGiveUp`` (the caller hung up).
Each carries the ``Parkee*`` channel block, ``ParkerDialString``, ``Parkinglot``, ``ParkingSpace``,
``ParkingTimeout`` (seconds left) and ``ParkingDuration``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.asterisk.ami import Message
from cti.asterisk.tracker.channels import device_of
from cti.asterisk.tracker.dispatch import light
from cti.core.events import CallerInfo, CallParked, CallUnparked, DomainEvent
from cti.core.ids import LinkedId, UniqueId

if TYPE_CHECKING:
    from cti.asterisk.tracker.tracker import CallTracker

_OUTCOMES = {"UnParkedCall": "retrieved", "ParkedCallTimeOut": "timeout", "ParkedCallGiveUp": "gave_up"}


def _number(value: str | None) -> str:
    return "" if not value or value == "<unknown>" else value


def _parkee(t: CallTracker, m: dict[str, str], parked: bool) -> tuple[str, str]:
    """(Uniqueid, the journey's Linkedid) of the parked channel, marked parked or not; ("", "") if unknown."""
    uid = m.get("ParkeeUniqueid", "")
    ch = t.channels.by_uid.get(uid)
    if ch is not None:
        ch.parked = parked
    linkedid = ch.journey.record.linkedid if ch is not None else m.get("ParkeeLinkedid", "")
    return (uid, linkedid) if uid and linkedid else ("", "")


@light("ParkedCall")
def on_parked(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    m = msg.map
    uid, linkedid = _parkee(t, m, True)
    if not uid:
        return
    try:
        timeout = float(m.get("ParkingTimeout", "0"))
    except ValueError:
        timeout = 0.0
    caller = CallerInfo(_number(m.get("ParkeeCallerIDNum")), _number(m.get("ParkeeCallerIDName")))
    out.append(
        CallParked(
            at,
            t.server,
            LinkedId(linkedid),
            UniqueId(uid),
            m.get("ParkeeChannel", ""),
            m.get("Parkinglot", ""),
            m.get("ParkingSpace", ""),
            timeout,
            m.get("ParkerDialString", ""),
            caller,
        )
    )


@light("UnParkedCall", "ParkedCallTimeOut", "ParkedCallGiveUp")
def on_unparked(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    m = msg.map
    uid, linkedid = _parkee(t, m, False)
    if not uid:
        return
    retriever = m.get("RetrieverChannel", "")
    agent = t.roster.agent_of_device(device_of(retriever)) if retriever else None
    outcome = _OUTCOMES[msg.event or ""]
    lot, space = m.get("Parkinglot", ""), m.get("ParkingSpace", "")
    out.append(CallUnparked(at, t.server, LinkedId(linkedid), UniqueId(uid), lot, space, outcome, agent))
