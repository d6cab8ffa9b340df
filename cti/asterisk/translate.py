"""AMI messages -> typed AMI events: frozen dataclasses with snake_case fields. Pure, no I/O.

Theory of operation:

1. ``translate(msg, received_at)`` returns one ``AmiEvent`` for every message that has an ``Event``
   header. Responses (``Response:``) are not events: ``translate`` returns ``None`` for them.
2. Every event carries ``at``: Asterisk's own ``Timestamp`` header (``timestampevents = yes``) when it is
   there, else the ``received_at`` the caller passes in (the time the bytes arrived).
3. Channel-shaped headers (``Channel``, ``Uniqueid``, ``CallerIDName``...) become a ``Chan`` snapshot;
   prefixed blocks (``Dest*``, ``Transferer*``, ``LocalOne*``...) become a second ``Chan``.
   ``CallerIDName``/``ConnectedLineName`` and VarSet ``Value`` are C-unescaped here (AMI.md "Escaping"),
   and Asterisk's ``<unknown>`` placeholder becomes the empty string.
4. Events this module has no class for become ``GenericEvent`` (name + headers): never an error.
5. Malformed input (a channel event without ``Uniqueid``, a count that is not a number) becomes
   ``MalformedEvent`` naming the event and the problem. It never raises: the loop carries on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cti.asterisk.ami import Message, unescape
from cti.core.frozen import quick_constructor

UNKNOWN = "<unknown>"


class TranslateError(ValueError):
    """A header the event needs is missing or is not what Asterisk sends."""


@dataclass(frozen=True, slots=True)
class Chan:
    """A channel snapshot block (ami-reference.md 2.2), with or without a prefix."""

    name: str
    uniqueid: str
    linkedid: str
    state: int
    caller_num: str
    caller_name: str
    connected_num: str
    connected_name: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class AmiEvent:
    at: float
    name: str


@dataclass(frozen=True, slots=True)
class GenericEvent(AmiEvent):
    """An event without a dedicated class: passed through with all of its headers."""

    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MalformedEvent(AmiEvent):
    problem: str
    raw: str


@dataclass(frozen=True, slots=True)
class ChannelEvent(AmiEvent):
    """Newchannel, Newstate, NewCallerid, NewConnectedLine, Newexten, Hold, Unhold, MusicOnHold*..."""

    chan: Chan


@dataclass(frozen=True, slots=True)
class HangupEvent(AmiEvent):
    chan: Chan
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class HangupRequestEvent(AmiEvent):
    """HangupRequest or SoftHangupRequest: a hangup is on its way for this channel."""

    chan: Chan
    cause: int


@dataclass(frozen=True, slots=True)
class DialEvent(AmiEvent):
    """DialBegin, DialState, DialEnd. ``caller`` is None for an AMI Originate (no calling channel)."""

    caller: Chan | None
    dest: Chan
    dial_string: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class LocalBridgeEvent(AmiEvent):
    one: Chan
    two: Chan
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class BridgeEvent(AmiEvent):
    """BridgeEnter / BridgeLeave (``chan`` set) and BridgeCreate / BridgeDestroy (``chan`` None)."""

    bridge_id: str
    num_channels: int
    chan: Chan | None


@dataclass(frozen=True, slots=True)
class QueueCallerEvent(AmiEvent):
    """QueueCallerJoin / QueueCallerLeave / QueueCallerAbandon. ``hold_time`` only on Abandon."""

    chan: Chan
    queue: str
    position: int
    count: int
    original_position: int
    hold_time: int


@dataclass(frozen=True, slots=True)
class AgentEvent(AmiEvent):
    """AgentCalled / AgentConnect / AgentComplete / AgentRingNoAnswer / AgentDump.

    ``ring_time`` is in seconds on every event (AgentRingNoAnswer's milliseconds are converted);
    ``hold_time``/``talk_time`` are seconds; ``reason`` is AgentComplete's caller|agent|transfer.
    """

    caller: Chan | None  # None on an AgentComplete sent after both channels were gone
    dest: Chan | None
    queue: str
    interface: str
    member: str
    hold_time: int
    ring_time: float
    talk_time: int
    reason: str


@dataclass(frozen=True, slots=True)
class QueueMemberEvent(AmiEvent):
    """QueueMemberStatus/Added/Removed/Pause/Penalty/Ringinuse and the QueueMember list item."""

    queue: str
    member: str
    interface: str
    state_interface: str
    membership: str
    penalty: int
    calls_taken: int
    in_call: bool
    status: int
    paused: bool
    paused_reason: str
    wrapuptime: int


@dataclass(frozen=True, slots=True)
class QueueEntryEvent(AmiEvent):
    """QueueEntry list item (QueueStatus): a caller waiting now."""

    queue: str
    position: int
    channel: str
    uniqueid: str
    caller_num: str
    caller_name: str
    wait: int


@dataclass(frozen=True, slots=True)
class QueueParamsEvent(AmiEvent):
    queue: str
    calls: int
    strategy: str


@dataclass(frozen=True, slots=True)
class TransferEvent(AmiEvent):
    """BlindTransfer / AttendedTransfer. ``transferer`` is the channel that asked for the transfer,
    ``transferee`` the one that moves (the caller); ``target`` is ``exten@context`` (blind) or the
    attended transfer's destination type."""

    result: str
    transferer: Chan | None
    transferee: Chan | None
    target: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class VarSetEvent(AmiEvent):
    chan: Chan | None
    variable: str
    value: str


@dataclass(frozen=True, slots=True)
class UserEventEvent(AmiEvent):
    user_event: str
    chan: Chan | None
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class OriginateResponseEvent(AmiEvent):
    action_id: str
    response: str
    channel: str
    context: str
    exten: str
    reason: int
    uniqueid: str
    caller_num: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class CoreShowChannelEvent(AmiEvent):
    chan: Chan
    application: str
    application_data: str
    duration: int  # seconds
    bridge_id: str


@dataclass(frozen=True, slots=True)
class RenameEvent(AmiEvent):
    channel: str
    new_name: str
    uniqueid: str


# Quick constructors (cti/core/frozen.py) of the classes above: exact instances, built without a call per
# field. The builders below make an event and one or two channel blocks for most messages they see.
_Chan = quick_constructor(Chan)
_ChannelEvent = quick_constructor(ChannelEvent)
_HangupEvent = quick_constructor(HangupEvent)
_HangupRequestEvent = quick_constructor(HangupRequestEvent)
_DialEvent = quick_constructor(DialEvent)
_LocalBridgeEvent = quick_constructor(LocalBridgeEvent)
_BridgeEvent = quick_constructor(BridgeEvent)
_QueueCallerEvent = quick_constructor(QueueCallerEvent)
_AgentEvent = quick_constructor(AgentEvent)
_QueueMemberEvent = quick_constructor(QueueMemberEvent)
_QueueEntryEvent = quick_constructor(QueueEntryEvent)
_QueueParamsEvent = quick_constructor(QueueParamsEvent)
_TransferEvent = quick_constructor(TransferEvent)
_VarSetEvent = quick_constructor(VarSetEvent)
_UserEventEvent = quick_constructor(UserEventEvent)
_OriginateResponseEvent = quick_constructor(OriginateResponseEvent)
_CoreShowChannelEvent = quick_constructor(CoreShowChannelEvent)
_RenameEvent = quick_constructor(RenameEvent)


# --- header helpers ------------------------------------------------------------------------------------

_CHAN_KEYS = (
    "Channel",
    "Uniqueid",
    "Linkedid",
    "ChannelState",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Context",
    "Exten",
)
_PREFIX_KEYS: dict[str, tuple[str, ...]] = {p: tuple(p + k for k in _CHAN_KEYS) for p in ("",)}


def _keys(prefix: str) -> tuple[str, ...]:
    keys = _PREFIX_KEYS.get(prefix)
    if keys is None:
        keys = _PREFIX_KEYS[prefix] = tuple(prefix + k for k in _CHAN_KEYS)
    return keys


def _num(v: str) -> str:
    return "" if v == UNKNOWN else v


def _name(v: str) -> str:
    if v == UNKNOWN:
        return ""
    return unescape(v) if "\\" in v else v


def _int(m: dict[str, str], key: str, default: int = 0) -> int:
    v = m.get(key)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise TranslateError(f"{key} is not a number: {v[:40]!r}") from None


_BLANKS = ("",) * len(_CHAN_KEYS)


def _chan(m: dict[str, str], prefix: str = "", required: bool = True) -> Chan | None:
    k = _PREFIX_KEYS.get(prefix) or _keys(prefix)
    name, uid, linkedid, state, num, cid_name, conn_num, conn_name, context, exten = map(m.get, k, _BLANKS)
    if uid == "" or uid == "none":
        if required:
            raise TranslateError(f"missing {k[1]}")
        return None
    return _Chan(
        name,
        uid,
        linkedid or uid,
        int(state) if state.isdigit() else 0,
        "" if num == UNKNOWN else num,
        cid_name if "\\" not in cid_name and cid_name != UNKNOWN else _name(cid_name),
        "" if conn_num == UNKNOWN else conn_num,
        conn_name if "\\" not in conn_name and conn_name != UNKNOWN else _name(conn_name),
        context,
        exten,
    )


def _req_chan(m: dict[str, str], prefix: str = "") -> Chan:
    c = _chan(m, prefix)
    assert c is not None  # required=True raises instead of returning None
    return c


def _duration(v: str) -> int:
    parts = v.split(":")
    try:
        total = 0
        for p in parts:
            total = total * 60 + int(p)
        return total
    except ValueError:
        raise TranslateError(f"Duration is not HH:MM:SS: {v[:40]!r}") from None


# --- per-event builders --------------------------------------------------------------------------------

_Builder = Callable[[str, float, dict[str, str], Message], AmiEvent]


def _b_channel(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _ChannelEvent(at, n, _req_chan(m))


def _b_hangup(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _HangupEvent(at, n, _req_chan(m), _int(m, "Cause"), m.get("Cause-txt", ""))


def _b_hangup_request(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _HangupRequestEvent(at, n, _req_chan(m), _int(m, "Cause"))


def _b_dial(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _DialEvent(
        at, n, _chan(m, "", False), _req_chan(m, "Dest"), m.get("DialString", ""), m.get("DialStatus", "")
    )


def _b_local_bridge(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _LocalBridgeEvent(
        at, n, _req_chan(m, "LocalOne"), _req_chan(m, "LocalTwo"), m.get("Context", ""), m.get("Exten", "")
    )


def _b_bridge(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    bid = m.get("BridgeUniqueid")
    if not bid:
        raise TranslateError("missing BridgeUniqueid")
    chan = _chan(m) if n in ("BridgeEnter", "BridgeLeave") else None
    return _BridgeEvent(at, n, bid, _int(m, "BridgeNumChannels"), chan)


def _b_queue_caller(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _QueueCallerEvent(
        at,
        n,
        _req_chan(m),
        m.get("Queue", ""),
        _int(m, "Position"),
        _int(m, "Count"),
        _int(m, "OriginalPosition"),
        _int(m, "HoldTime"),
    )


def _b_agent(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    ring = float(_int(m, "RingTime"))
    if n == "AgentRingNoAnswer":
        ring /= 1000.0  # milliseconds on this one event (AMI.md "Queue events")
    return _AgentEvent(
        at,
        n,
        _chan(m, "", n != "AgentComplete"),
        _chan(m, "Dest", False),
        m.get("Queue", ""),
        m.get("Interface", ""),
        m.get("MemberName", "") or m.get("Interface", ""),
        _int(m, "HoldTime"),
        ring,
        _int(m, "TalkTime"),
        m.get("Reason", ""),
    )


def _b_member(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    # QueueMember list items say Name/Location; the async events MemberName/Interface (AMI.md).
    interface = m.get("Interface") or m.get("Location") or ""
    member = m.get("MemberName") or m.get("Name") or interface
    return _QueueMemberEvent(
        at,
        n,
        m.get("Queue", ""),
        member,
        interface,
        m.get("StateInterface", interface),
        m.get("Membership", ""),
        _int(m, "Penalty"),
        _int(m, "CallsTaken"),
        m.get("InCall", "0") == "1",
        _int(m, "Status"),
        m.get("Paused", "0") == "1",
        m.get("PausedReason", ""),
        _int(m, "Wrapuptime"),
    )


def _b_queue_entry(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    uid = m.get("Uniqueid")
    if not uid:
        raise TranslateError("missing Uniqueid")
    return _QueueEntryEvent(
        at,
        n,
        m.get("Queue", ""),
        _int(m, "Position"),
        m.get("Channel", ""),
        uid,
        _num(m.get("CallerIDNum", "")),
        _name(m.get("CallerIDName", "")),
        _int(m, "Wait"),
    )


def _b_queue_params(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _QueueParamsEvent(at, n, m.get("Queue", ""), _int(m, "Calls"), m.get("Strategy", ""))


def _b_transfer(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    if n == "BlindTransfer":
        ctx, ext = m.get("Context", ""), m.get("Extension", "")
        return _TransferEvent(
            at,
            n,
            m.get("Result", ""),
            _chan(m, "Transferer", False),
            _chan(m, "Transferee", False),
            f"{ext}@{ctx}" if ctx else ext,
            ctx,
            ext,
        )
    # AttendedTransfer: the original transferer's bridge partner is the transferee. The target is the
    # consultation's exten@context when the TransferTarget block (Asterisk 13.18+) names it.
    ctx, ext = m.get("TransferTargetContext", ""), m.get("TransferTargetExten", "")
    return _TransferEvent(
        at,
        n,
        m.get("Result", ""),
        _chan(m, "OrigTransferer", False),
        _chan(m, "Transferee", False) or _chan(m, "SecondTransferer", False),
        f"{ext}@{ctx}" if ctx and ext else m.get("DestType", ""),
        ctx,
        ext,
    )


def _b_varset(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    value = m.get("Value", "")
    return _VarSetEvent(
        at, n, _chan(m, "", False), m.get("Variable", ""), unescape(value) if "\\" in value else value
    )


_CHAN_HEADERS = frozenset(
    {"Event", "Privilege", "Timestamp", "SystemName", "ChannelState", "ChannelStateDesc", "Language"}
    | {"AccountCode", "Priority", "Linkedid", "Channel", "CallerIDName", "ConnectedLineNum"}
    | {"ConnectedLineName", "Context", "Exten", "UserEvent"}
)


def _b_userevent(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    chan = _chan(m, "", False) if "Channel" in m else None
    headers = {k: v for k, v in m.items() if k not in _CHAN_HEADERS}
    return _UserEventEvent(at, n, m.get("UserEvent", ""), chan, headers)


def _b_originate(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    uid = m.get("Uniqueid", "")
    return _OriginateResponseEvent(
        at,
        n,
        m.get("ActionID", ""),
        m.get("Response", ""),
        m.get("Channel", ""),
        m.get("Context", ""),
        m.get("Exten", ""),
        _int(m, "Reason"),
        "" if uid == UNKNOWN else uid,
        _num(m.get("CallerIDNum", "")),
        _name(m.get("CallerIDName", "")),
    )


def _b_core_show(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _CoreShowChannelEvent(
        at,
        n,
        _req_chan(m),
        m.get("Application", ""),
        m.get("ApplicationData", ""),
        _duration(m.get("Duration", "0")),
        m.get("BridgeId", ""),
    )


def _b_rename(n: str, at: float, m: dict[str, str], msg: Message) -> AmiEvent:
    return _RenameEvent(at, n, m.get("Channel", ""), m.get("Newname", ""), m.get("Uniqueid", ""))


BUILDERS: dict[str, _Builder] = {
    **dict.fromkeys(
        (
            "Newchannel",
            "Newstate",
            "NewCallerid",
            "NewConnectedLine",
            "Newexten",
            "Hold",
            "Unhold",
            "MusicOnHoldStart",
            "MusicOnHoldStop",
            "ConfbridgeJoin",  # apps/confbridge: the channel block of the member
            "ConfbridgeLeave",
        ),
        _b_channel,
    ),
    "Hangup": _b_hangup,
    "HangupRequest": _b_hangup_request,
    "SoftHangupRequest": _b_hangup_request,
    "DialBegin": _b_dial,
    "DialState": _b_dial,
    "DialEnd": _b_dial,
    "LocalBridge": _b_local_bridge,
    **dict.fromkeys(("BridgeCreate", "BridgeDestroy", "BridgeEnter", "BridgeLeave"), _b_bridge),
    **dict.fromkeys(("QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon"), _b_queue_caller),
    **dict.fromkeys(
        ("AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "AgentDump"), _b_agent
    ),
    **dict.fromkeys(
        (
            "QueueMemberStatus",
            "QueueMemberAdded",
            "QueueMemberRemoved",
            "QueueMemberPause",
            "QueueMemberPenalty",
            "QueueMemberRinginuse",
            "QueueMember",
        ),
        _b_member,
    ),
    "QueueEntry": _b_queue_entry,
    "QueueParams": _b_queue_params,
    "BlindTransfer": _b_transfer,
    "AttendedTransfer": _b_transfer,
    "VarSet": _b_varset,
    "UserEvent": _b_userevent,
    "OriginateResponse": _b_originate,
    "CoreShowChannel": _b_core_show,
    "Rename": _b_rename,
}


def event_time(msg: Message, received_at: float | None) -> float:
    """The Timestamp header when Asterisk sends one, else the receive time (0.0 when neither)."""
    ts = msg.map.get("Timestamp")
    if ts is not None:
        try:
            return float(ts)
        except ValueError:
            pass
    return received_at if received_at is not None else 0.0


def translate(msg: Message, received_at: float | None = None) -> AmiEvent | None:
    """One message -> one typed event; None for responses and other non-events. Never raises."""
    m = msg.map
    name = m.get("Event")
    if name is None:
        return None
    at = event_time(msg, received_at)
    builder = BUILDERS.get(name)
    if builder is None:
        return GenericEvent(at, name, dict(m))
    return build(builder, name, at, msg)


def build(builder: _Builder, name: str, at: float, msg: Message) -> AmiEvent:
    """Run one builder, turning any problem with the headers into a MalformedEvent."""
    try:
        return builder(name, at, msg.map, msg)
    except (TranslateError, ValueError) as e:
        raw = "; ".join(f"{k}: {v}" for k, v in msg.headers[:12])
        return MalformedEvent(at, name, f"{name}: {e}", raw[:300])
