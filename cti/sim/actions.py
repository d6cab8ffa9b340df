"""The AMI actions the simulator understands, with Asterisk's own response and error texts.

Each handler takes the session and the action and returns the response messages (the first one is
the ``Response:``; list actions append their items and the ``...Complete`` event). Model changes go
through ``cti.sim.pbx.Pbx``; the events they raise are written after the response by the session.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cti.asterisk.ami import Message, escape
from cti.sim import consult_actions as consult
from cti.sim.channels import UP, Channel
from cti.sim.pbx import ActionError
from cti.sim.protocol import AmiSession, Handler, Headers, _expand, parse_mask

if TYPE_CHECKING:
    from cti.sim.server import SimServer

_CALLERID = re.compile(r'^\s*(?:"(?P<q>(?:[^"\\]|\\.)*)"|(?P<n>[^<]*?))\s*<(?P<num>[^>]*)>\s*$')


def ok(message: str | None = None, *extra: tuple[str, str]) -> Headers:
    h: Headers = [("Response", "Success")]
    if message is not None:
        h.append(("Message", message))
    h.extend(extra)
    return h


def err(message: str) -> Headers:
    return [("Response", "Error"), ("Message", message)]


def parse_callerid(value: str) -> tuple[str, str]:
    """``"Name" <num>`` / ``Name <num>`` / ``num`` -> (num, name), as ast_callerid_parse does."""
    m = _CALLERID.match(value)
    if m is None:
        v = value.strip()
        return (v, "") if v and all(c.isdigit() or c in "+*#" for c in v) else ("", v)
    name = m.group("q")
    if name is not None:
        name = name.replace('\\"', '"').replace("\\\\", "\\")
    else:
        name = (m.group("n") or "").strip()
    return m.group("num").strip(), name


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "yes", "true", "on", "y", "t")


# ---------------------------------------------------------------------- session actions
def login(s: AmiSession, m: Message) -> list[Headers]:
    if s.authenticated:
        return [ok("Already authenticated")]
    if not s.check_login(m):
        s.server.log_security(f"failed login for {m.get('Username')!r} from {s.peer}")
        s.login_failed(m.get("ActionID"))
        return []
    user = s.server.users[m.get("Username") or ""]
    s.authenticated = True
    s.username = user.username
    s.read_classes = _expand(user.read)
    s.write_classes = _expand(user.write)
    mask = parse_mask(m.get("Events") or "on")
    s.mask = (mask if mask is not None else frozenset()) & s.read_classes
    replies = [ok("Authentication accepted")]
    if "system" in s.mask:
        up = str(int(s.server.pbx.now - s.server.pbx.boot_time))
        replies.append(
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", up),
                ("LastReload", up),
                ("Status", "Fully Booted"),
            ]
        )
    s.server.security_event(s, "SuccessfulAuth", "Informational", [("UsingPassword", "0")])
    return replies


def challenge(s: AmiSession, m: Message) -> list[Headers]:
    if (m.get("AuthType") or "").lower() != "md5":
        return [err("Must specify AuthType")]
    if s.challenge is None:
        s.challenge = str(s.server.challenge_rng.randrange(10**8, 10**9))
    return [ok(None, ("Challenge", s.challenge))]


def logoff(s: AmiSession, m: Message) -> list[Headers]:
    s.close_after = True
    return [[("Response", "Goodbye"), ("Message", "Thanks for all the fish.")]]


def ping(s: AmiSession, m: Message) -> list[Headers]:
    return [ok(None, ("Ping", "Pong"), ("Timestamp", f"{s.server.pbx.now:.6f}"))]


def events(s: AmiSession, m: Message) -> list[Headers]:
    mask = parse_mask(m.get("EventMask") or "")
    if mask is None:
        return [err("Invalid event mask")]
    s.mask = mask & s.read_classes
    return [[("Response", "Success"), ("Events", "On" if s.mask else "Off")]]


def filter_(s: AmiSession, m: Message) -> list[Headers]:
    if (m.get("Operation") or "Add").lower() != "add":
        return [err("Unknown operation")]
    f = m.get("Filter")
    if f is None:
        return [err("Filter was formatted incorrectly.  Check the syntax of the filter given.")]
    include = not f.startswith("!")
    try:
        rx = re.compile(f if include else f[1:])
    except re.error:
        return [err("Filter did not compile.  Check the syntax of the filter given.")]
    s.filters.append((include, rx))
    return [ok("Success")]


def list_commands(s: AmiSession, m: Message) -> list[Headers]:
    return [ok(None, *((name, "") for name in sorted(s.server.actions)))]


def command(s: AmiSession, m: Message) -> list[Headers]:
    """A few CLI commands, in the Asterisk 14+ format (one Output header per line)."""
    cmd = " ".join((m.get("Command") or "").split()).lower()
    if not cmd:
        return [err("No command provided")]
    if cmd.startswith(("module load", "module unload", "module reload")):
        return [err("Command blacklisted")]
    pbx = s.server.pbx
    if cmd == "core show version":
        out = [f"Asterisk (simulated by cti, manager protocol {s.server.scenario.version})"]
    elif cmd == "core show uptime seconds":
        up = int(pbx.now - pbx.boot_time)
        out = [f"System uptime: {up}", f"Last reload: {up}"]
    elif cmd == "core show channels count":
        n = len(pbx.channels)
        calls = len({c.linkedid for c in pbx.channels.all()})
        out = [
            f"{n} active channel{'s' if n != 1 else ''}",
            f"{calls} active call{'s' if calls != 1 else ''}",
        ]
    else:
        word = cmd.split()[0]
        return [
            [
                ("Response", "Error"),
                ("Message", "Command output follows"),
                (
                    "Output",
                    f"No such command '{cmd}' (type 'core show help {word}' for other possible commands)",
                ),
            ]
        ]
    return [ok("Command output follows", *(("Output", line) for line in out))]


# ---------------------------------------------------------------------- call actions
def originate(s: AmiSession, m: Message) -> list[Headers]:
    channel = (m.get("Channel") or "").strip()
    if not channel:
        return [err("Channel not specified")]
    if "/" not in channel:
        return [err("Invalid channel")]
    exten, context, prio = m.get("Exten"), m.get("Context"), m.get("Priority")
    if exten and (not context or not prio):
        return [err("Originate with 'Exten' requires 'Context' and 'Priority'")]
    if not exten and not m.get("Application"):
        return [err("Originate with 'Exten' requires 'Context' and 'Priority'")]
    try:
        priority = int(prio) if prio else 1
    except ValueError:
        return [err("Invalid priority")]
    try:
        timeout_ms = int(m.get("Timeout") or 30000)
    except ValueError:
        return [err("Invalid timeout")]
    channel_id = m.get("ChannelId") or None
    other_id = m.get("OtherChannelId") or None
    if (channel_id and len(channel_id) > 149) or (other_id and len(other_id) > 149):
        return [err("Uniqueid length exceeds maximum of 149")]
    pbx = s.server.pbx
    if channel_id and pbx.channels.exists(channel_id):
        return [err("Originate failed")]
    variables: dict[str, str] = {}
    for v in m.getall("Variable"):
        for part in v.split(","):
            k, eq, val = part.partition("=")
            if eq and k.strip():
                variables[k.strip()] = val
    num, name = parse_callerid(m.get("CallerID") or "")
    aid = m.get("ActionID")
    target = (context or "", exten or "", priority)
    if not exten:  # Application/Data originate: ChanSpy runs (cti.sim.chanspy), anything else fails
        if not _truthy(m.get("Async")):  # the sim runs applications on Async originates only
            pbx._originate_response(aid, "Failure", channel, target, 0, channel_id or "<null>", num, name)
            return [ok("Originate successfully queued")]
        pbx.originate_app(
            channel,
            m.get("Application") or "",
            m.get("Data") or "",
            num,
            name,
            variables,
            aid,
            channel_id,
            max(0.0, timeout_ms / 1000.0),
        )
        return [ok("Originate successfully queued")]
    sync = not _truthy(m.get("Async"))
    done = None
    if sync:  # the response waits for the outcome, and the session waits with it (no event either)
        s.begin_wait()

        def done(answered: bool) -> None:
            s.end_wait(ok("Originate successfully queued") if answered else err("Originate failed"), aid)

    pbx.originate(
        channel,
        target[0],
        target[1],
        priority,
        num,
        name,
        variables,
        aid,
        channel_id,
        other_id,
        max(0.0, timeout_ms / 1000.0),
        done,
    )
    return [] if sync else [ok("Originate successfully queued")]


def _channel(s: AmiSession, name: str | None) -> Channel | None:
    """By name, else by Uniqueid (ast_channel_get_by_name takes either)."""
    channels = s.server.pbx.channels
    return channels.find(name or "") or channels.by_uniqueid.get(name or "")


def redirect_checks(s: AmiSession, m: Message) -> tuple[Channel, int] | list[Headers]:
    """The Redirect's channel and priority, or action_redirect's error."""
    name = m.get("Channel")
    if not name:
        return [err("Channel not specified")]
    if not m.get("Context"):
        return [err("Context not specified")]
    if not m.get("Exten"):
        return [err("Exten not specified")]
    if not m.get("Priority"):
        return [err("Priority not specified")]
    try:
        prio = int(m.get("Priority") or "1")
    except ValueError:
        return [err("Priority is invalid")]
    ch = _channel(s, name)
    if ch is None:
        return [err(f"Channel does not exist: {name}")]
    if ch.state != UP:
        return [err("Redirect failed, channel not up.")]
    return ch, prio


def redirect(s: AmiSession, m: Message) -> list[Headers]:
    checked = redirect_checks(s, m)
    if isinstance(checked, list):
        return checked
    ch, prio = checked
    if m.get("ExtraChannel"):  # a dual Redirect (warm transfers' conferences: cti.sim.consult_actions)
        return consult.dual_redirect(s, m, ch, prio)
    try:
        s.server.pbx.redirect(ch, m.get("Context") or "", m.get("Exten") or "", prio)
    except ActionError as e:
        return [err(str(e))]
    return [ok("Redirect successful")]


def hangup(s: AmiSession, m: Message) -> list[Headers]:
    name = m.get("Channel")
    if not name:
        return [err("No channel specified")]
    try:
        cause = int(m.get("Cause") or "16")
    except ValueError:
        cause = 16
    pbx = s.server.pbx
    if name.startswith("/") and name.endswith("/") and len(name) > 1:
        try:
            rx = re.compile(name[1:-1])
        except re.error:
            return [err(f"Regex compile failed on: {name[1:-1]}")]
        matched = [c for c in pbx.channels.all() if rx.search(c.name)]
        items: list[Headers] = []
        for c in matched:
            items.append([("Event", "ChannelHungup"), ("Channel", c.name)])
            pbx.hangup_channel(c, cause)
        return [
            [("Response", "Success"), ("EventList", "start"), ("Message", "Channels hung up will follow")],
            *(_with_id(i, m) for i in items),
            [
                ("Event", "ChannelsHungupListComplete"),
                *_aid(m),
                ("EventList", "Complete"),
                ("ListItems", str(len(items))),
            ],
        ]
    ch = _channel(s, name)
    if ch is None:
        return [err("No such channel")]
    pbx.hangup_channel(ch, cause)
    return [ok("Channel Hungup")]


def play_dtmf(s: AmiSession, m: Message) -> list[Headers]:
    """PlayDTMF (main/manager.c): ``Receive: true`` queues the digit as read from the channel (a ChanSpy
    with the ``d`` option switches mode), otherwise it is sent out to the device."""
    name = m.get("Channel")
    digit = m.get("Digit")
    if not name:
        return [err("Channel not specified")]
    ch = _channel(s, name)
    if ch is None:
        return [err("Channel not found")]
    if not digit:
        return [err("No digit specified")]
    try:
        duration = int(m.get("Duration") or "0")
    except ValueError:
        return [err("Invalid duration")]
    s.server.pbx.play_dtmf(ch, digit[0], _truthy(m.get("Receive")), duration or 100)
    return [ok("DTMF successfully queued")]


def setvar(s: AmiSession, m: Message) -> list[Headers]:
    var = m.get("Variable")
    if not var:
        return [err("No variable specified")]
    value = m.get("Value") or ""
    name = m.get("Channel")
    if name:
        ch = _channel(s, name)
        if ch is None:
            return [err("No such channel")]
        s.server.pbx.set_var(ch, var, value)
    else:
        s.server.pbx.global_vars[var] = value
    return [ok("Variable Set")]


def getvar(s: AmiSession, m: Message) -> list[Headers]:
    var = m.get("Variable")
    if not var:
        return [err("No variable specified")]
    name = m.get("Channel")
    if name:
        ch = _channel(s, name)
        if ch is None:
            return [err("No such channel")]
        value = ch.variable(var) or ""
    else:
        value = s.server.pbx.global_vars.get(var, "")
    return [[("Response", "Success"), ("Variable", var), ("Value", escape(value))]]


def blind_transfer(s: AmiSession, m: Message) -> list[Headers]:
    name = m.get("Channel")
    if not name:
        return [err("No channel specified")]
    exten = m.get("Exten")
    if not exten:
        return [err("No extension specified")]
    ch = _channel(s, name)
    if ch is None:
        return [err("Channel specified does not exist")]
    try:
        s.server.pbx.blind_transfer(ch, m.get("Context") or ch.context, exten)
    except ActionError as e:
        return [err(str(e))]
    return [ok("Transfer succeeded")]


def user_event(s: AmiSession, m: Message) -> list[Headers]:
    name = m.get("UserEvent")
    if not name:
        return [err("Missing UserEvent")]
    extra = [(k, v) for k, v in m.headers if k.lower() not in ("action", "userevent")]
    s.server.pbx.event("UserEvent", "user", [("UserEvent", name), *extra])
    return [ok("Event Sent")]


# ---------------------------------------------------------------------- queue actions
def queue_add(s: AmiSession, m: Message) -> list[Headers]:
    queue, iface = m.get("Queue"), m.get("Interface")
    if not queue:
        return [err("'Queue' not specified.")]
    if not iface:
        return [err("'Interface' not specified.")]
    try:
        penalty = int(m.get("Penalty") or "0")
    except ValueError:
        penalty = 0
    try:
        s.server.pbx.queue_add(
            queue,
            iface,
            m.get("MemberName") or "",
            penalty,
            _truthy(m.get("Paused")),
            m.get("Reason") or "",
            m.get("StateInterface") or "",
        )
    except ActionError as e:
        return [err(str(e))]
    return [ok("Added interface to queue")]


def queue_remove(s: AmiSession, m: Message) -> list[Headers]:
    queue, iface = m.get("Queue"), m.get("Interface")
    if not queue or not iface:
        return [err("Need 'Queue' and 'Interface' parameters.")]
    try:
        s.server.pbx.queue_remove(queue, iface)
    except ActionError as e:
        return [err(str(e))]
    return [ok("Removed interface from queue")]


def queue_pause(s: AmiSession, m: Message) -> list[Headers]:
    iface, paused = m.get("Interface"), m.get("Paused")
    if not iface or not paused:
        return [err("Need 'Interface' and 'Paused' parameters.")]
    p = _truthy(paused)
    try:
        s.server.pbx.queue_pause(iface, p, m.get("Queue") or None, m.get("Reason") or "")
    except ActionError as e:
        return [err(str(e))]
    return [ok("Interface paused successfully" if p else "Interface unpaused successfully")]


def queue_penalty(s: AmiSession, m: Message) -> list[Headers]:
    iface, pen = m.get("Interface"), m.get("Penalty")
    if not iface or not pen:
        return [err("Need 'Interface' and 'Penalty' parameters.")]
    try:
        penalty = int(pen)
        if penalty < 0:
            raise ValueError
        s.server.pbx.queue_penalty(iface, penalty, m.get("Queue") or None)
    except (ValueError, ActionError):
        return [err("Invalid interface, queuename or penalty")]
    return [ok("Interface penalty set successfully")]


# ---------------------------------------------------------------------- list actions
def _aid(m: Message) -> list[tuple[str, str]]:
    aid = m.get("ActionID")
    return [("ActionID", aid)] if aid is not None else []


def _with_id(h: Headers, m: Message) -> Headers:
    return [*h, *_aid(m)]


def _start(message: str) -> Headers:
    return [("Response", "Success"), ("EventList", "start"), ("Message", message)]


def _complete(name: str, m: Message, n: int, *extra: tuple[str, str]) -> Headers:
    return [("Event", name), *_aid(m), ("EventList", "Complete"), ("ListItems", str(n)), *extra]


def queue_status(s: AmiSession, m: Message) -> list[Headers]:
    pbx = s.server.pbx
    want_q, want_member = m.get("Queue") or "", m.get("Member") or ""
    items: list[Headers] = []
    for q in reversed(list(pbx.queues.values())):  # Asterisk walks its hash container; support came first
        if want_q and q.name != want_q:
            continue
        perf, perf2 = q.sl_perf()
        items.append(
            [
                ("Event", "QueueParams"),
                ("Queue", q.name),
                ("Max", "0"),
                ("Strategy", q.spec.strategy),
                ("Calls", str(len(q.entries))),
                ("Holdtime", str(int(q.holdtime))),
                ("TalkTime", str(int(q.talktime))),
                ("Completed", str(q.completed)),
                ("Abandoned", str(q.abandoned)),
                ("ServiceLevel", str(q.spec.servicelevel)),
                ("ServicelevelPerf", perf),
                ("ServicelevelPerf2", perf2),
                ("Weight", "0"),
                *_aid(m),
            ]
        )
        for mem in q.members.values():
            if want_member and want_member not in (mem.name, mem.interface):
                continue
            phone = pbx.phones.get(mem.extension)
            in_call = phone.in_call() if phone is not None else False
            status = (
                0 if (phone is None or mem.state_interface.startswith("Custom:")) else (2 if in_call else 1)
            )
            blob = dict(mem.blob(status, in_call))
            items.append(
                [
                    ("Event", "QueueMember"),
                    ("Queue", q.name),
                    ("Name", mem.name),
                    ("Location", mem.interface),
                    *[
                        (k, blob[k])
                        for k in (
                            "StateInterface",
                            "Membership",
                            "Penalty",
                            "CallsTaken",
                            "LastCall",
                            "LastPause",
                            "LoginTime",
                            "InCall",
                            "Status",
                            "Paused",
                            "PausedReason",
                            "Wrapuptime",
                        )
                    ],
                    *_aid(m),
                ]
            )
        for pos, e in enumerate(q.entries, start=1):
            ch = e.leg.ch
            items.append(
                [
                    ("Event", "QueueEntry"),
                    ("Queue", q.name),
                    ("Position", str(pos)),
                    ("Channel", ch.name),
                    ("Uniqueid", ch.uniqueid),
                    ("CallerIDNum", ch.cid_num or "<unknown>"),
                    ("CallerIDName", escape(ch.cid_name or "<unknown>")),
                    ("ConnectedLineNum", ch.con_num or "<unknown>"),
                    ("ConnectedLineName", escape(ch.con_name or "<unknown>")),
                    ("Wait", str(int(pbx.now - e.joined))),
                    ("Priority", "0"),
                    *_aid(m),
                ]
            )
    return [_start("Queue status will follow"), *items, _complete("QueueStatusComplete", m, len(items))]


def queue_summary(s: AmiSession, m: Message) -> list[Headers]:
    pbx = s.server.pbx
    want_q = m.get("Queue") or ""
    items: list[Headers] = []
    for q in reversed(list(pbx.queues.values())):
        if want_q and q.name != want_q:
            continue
        logged = len(q.members)
        avail = sum(1 for mem in q.members.values() if pbx._available(mem))
        longest = max((int(pbx.now - e.joined) for e in q.entries), default=0)
        items.append(
            [
                ("Event", "QueueSummary"),
                ("Queue", q.name),
                ("LoggedIn", str(logged)),
                ("Available", str(avail)),
                ("Callers", str(len(q.entries))),
                ("HoldTime", str(int(q.holdtime))),
                ("TalkTime", str(int(q.talktime))),
                ("LongestHoldTime", str(longest)),
                *_aid(m),
            ]
        )
    return [_start("Queue summary will follow"), *items, _complete("QueueSummaryComplete", m, len(items))]


def _duration(seconds: float) -> str:
    sec = int(seconds)
    return f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"


def core_show_channels(s: AmiSession, m: Message) -> list[Headers]:
    pbx = s.server.pbx
    items: list[Headers] = []
    for ch in pbx.channels.all():
        items.append(
            [
                ("Event", "CoreShowChannel"),
                *_aid(m),
                *ch.snapshot(),
                ("Application", ch.app),
                ("ApplicationData", ch.appdata),
                ("Duration", _duration(pbx.now - ch.created)),
                ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
            ]
        )
    return [_start("Channels will follow"), *items, _complete("CoreShowChannelsComplete", m, len(items))]


def status(s: AmiSession, m: Message) -> list[Headers]:
    pbx = s.server.pbx
    name = m.get("Channel")
    if name:
        ch = _channel(s, name)
        if ch is None:
            return [err("No such channel")]
        chans = [ch]
    else:
        chans = pbx.channels.all()
    items: list[Headers] = []
    for ch in chans:
        items.append(
            [
                ("Event", "Status"),
                ("Privilege", "Call"),
                *ch.snapshot(),
                ("Type", ch.name.split("/", 1)[0]),
                ("DNID", ""),
                ("EffectiveConnectedLineNum", ch.con_num or "<unknown>"),
                ("EffectiveConnectedLineName", escape(ch.con_name or "<unknown>")),
                ("TimeToHangup", "0"),
                ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
                ("Application", ch.app),
                ("Data", ch.appdata),
                ("Nativeformats", "(slin)"),
                ("Readformat", "slin"),
                ("Readtrans", ""),
                ("Writeformat", "slin"),
                ("Writetrans", ""),
                ("Callgroup", "0"),
                ("Pickupgroup", "0"),
                ("Seconds", str(int(pbx.now - ch.created))),
                *_aid(m),
            ]
        )
    n = len(items)
    return [
        _start("Channel status will follow"),
        *items,
        _complete("StatusComplete", m, n, ("Items", str(n))),
    ]


ACTIONS: dict[str, Handler] = {
    "login": login,
    "challenge": challenge,
    "logoff": logoff,
    "ping": ping,
    "events": events,
    "filter": filter_,
    "listcommands": list_commands,
    "command": command,
    "originate": originate,
    "redirect": redirect,
    "hangup": hangup,
    "setvar": setvar,
    "getvar": getvar,
    "blindtransfer": blind_transfer,
    "atxfer": consult.atxfer,  # warm transfers and ConfBridge: cti.sim.consult_actions
    "confbridgekick": consult.confbridge_kick,
    "userevent": user_event,
    "playdtmf": play_dtmf,
    "queueadd": queue_add,
    "queueremove": queue_remove,
    "queuepause": queue_pause,
    "queuepenalty": queue_penalty,
    "queuestatus": queue_status,
    "queuesummary": queue_summary,
    "coreshowchannels": core_show_channels,
    "status": status,
}


def actions_for(server: SimServer) -> dict[str, Handler]:
    from cti.sim import holding

    return {**ACTIONS, **holding.actions(server)}  # CTI hold, Bridge, Park (cti.sim.holding)
