"""Agent and supervisor actions from the consoles, checked against the caller's role, sent over AMI.

The desk turns a websocket command into one or more AMI actions on the right Asterisk server:

=============  ==============================================================================
ready          ``QueuePause Paused=false`` (after a logout: ``QueueAdd`` to the agent's queues)
pause          ``QueuePause Paused=true Reason=<reason>`` (every queue)
logout         ``QueueRemove`` from each of the agent's queues
hangup         ``Hangup`` of the agent's channel in that call (the caller's if the agent has none)
warm_transfer  ``Atxfer`` of the agent's channel; consult complete / cancel / conference and conference
               start / leave / end: cti.screenpop.consult
transfer       ``BlindTransfer`` of the agent's channel (its bridged peer, the caller, moves) to
               ``agent_context,<ext>`` / ``queue_context,<queue>`` / ``dial_context,<number>``;
               ``Redirect`` of the caller's channel when the call is not bridged to the agent
dial           ``Originate Async=true`` of the agent's interface to ``dial_context,<number>``
hold / unhold  a dual ``Redirect`` (the caller to ``cti-hold``, the agent's channel to ``cti-hold-agent``)
               / ``Bridge`` of the two again; a hold left too long is given back or requeued
park           ``Park`` of the caller (TimeoutChannel the agent's), then ``Hangup`` of the agent's leg
pickup         ``Originate`` of the agent's interface to ``parking_context,<space>``
               (docs/design/hold-and-park.md for all four; over Redis the owner builds them too)
disposition    saved to the customer's history through the store (no AMI); an inbound call's code is
               checked against the store's list (cti.screenpop.dispositions)
dispositions   the inbound disposition list: list; supervisors add (or replace) and remove codes
schedule_callback  a callback at a date and time, for the agent or anyone (cti.delivery.callbacks)
callbacks      the agent's open callbacks (a supervisor: any agent's)
preview_dial   the preview card's lead dialled and connected to the agent (cti.delivery.dialer)
preview_skip   the preview card's lead skipped, the next one offered (cti.delivery.dialer)
email_reply    the reply to the e-mail task offered to the agent, sent over SMTP (cti.mail.component)
email_close    the e-mail task's disposition without a reply
campaign       the campaign page (supervisors): list, create, update, upload, start, pause, end, figures
spy            supervisors: ``Originate`` of their own phone (their account's interface) into
               ``ChanSpy(<agent's channel>,qESd[w|B])``; a change of mode: ``PlayDTMF Digit=4|5|6
               Receive=true`` on that phone's channel; ``stop``: ``Hangup`` of it (cti.screenpop.spying)
=============  ==============================================================================

Rules: an agent acts only for themselves and only on calls that rang them (and that no other agent
answered); a supervisor may act for any agent and on any call. Every refusal is a ``DeskError`` with a
code the client gets back.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cti.core.dispositions import DispositionError
from cti.core.errors import UsageError
from cti.core.events import SPY_CHANNEL_PREFIX, AgentState
from cti.core.ids import AgentId, LinkedId
from cti.dialer.settings import SettingError
from cti.mail.service import TaskError
from cti.screenpop import protocol as p
from cti.screenpop import spying
from cti.screenpop.dispositions import DispositionList
from cti.screenpop.hub import AgentSeat, Hub
from cti.screenpop.tokens import Identity
from cti.telemetry import Metric, counter

log = logging.getLogger("cti.screenpop.actions")

_EXTEN = re.compile(r"^[A-Za-z0-9]+/([^@/;]+)")


class DeskError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field  # the bad input's field, when there is one (sent with the error)


class CampaignActions(Protocol):
    """The campaign page's actions (cti.delivery.campaigns.CampaignControl)."""

    async def list(self) -> dict[str, Any]: ...

    async def create(self, name: object, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    async def update(self, name: object, fields: Mapping[str, Any]) -> dict[str, Any]: ...

    async def move(self, name: object, op: str) -> dict[str, Any]: ...

    async def upload(
        self, name: object, list_name: object, text: object, partial: bool
    ) -> dict[str, Any]: ...

    async def figures(self, name: object) -> dict[str, Any]: ...


class AmiActions(Protocol):
    async def send_action(self, action: dict[str, str]) -> Any: ...


@runtime_checkable
class DeskRequests(Protocol):
    """A server another instance is connected to (``cti.bus.commands.RemoteLink``): it takes the desk-level
    request (``op``, ``args``), checks it against its own state and builds the AMI action itself."""

    async def request(self, op: str, args: Mapping[str, Any]) -> Any: ...


class CallChannels(Protocol):
    """Channel names of a live call, from the call tracker's view (this instance's, or the one connected
    to that server)."""

    async def agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None: ...

    async def caller_channel(self, server: str, linkedid: str) -> str | None: ...


class RoutingControl(Protocol):
    """The CTI-mode router's console controls (cti.delivery.service.RoutingService)."""

    async def save_skills(self, agent: AgentId, skills: Mapping[str, int]) -> Mapping[str, int]: ...

    def end_wrapup(self, agent: AgentId) -> bool: ...

    def disposition_filed(self, agent: AgentId) -> None: ...


class CallbackControl(Protocol):
    """Callbacks (cti.delivery.callbacks.CallbackService)."""

    async def schedule(
        self, number: str, at: float, agent: AgentId | None, queue: str | None, created_by: str, note: str
    ) -> dict[str, Any]: ...

    async def of_agent(self, agent: AgentId) -> list[dict[str, Any]]: ...


class PreviewControl(Protocol):
    """Preview dialling (cti.delivery.dialer.DialerService): ValueError(code, message) when refused."""

    async def preview_dial(self, agent: AgentId, preview: str) -> dict[str, Any]: ...

    async def preview_skip(self, agent: AgentId, preview: str) -> dict[str, Any]: ...


class EmailControl(Protocol):
    """The e-mail channel (cti.mail.component.EmailComponent); refuses with ``TaskError``."""

    async def reply(self, agent: str, task_id: str, body: str, disposition: str = ...) -> dict[str, Any]: ...

    async def close(self, agent: str, task_id: str, disposition: str) -> dict[str, Any]: ...

    def allow_calls(self, agent: str, allow: bool) -> None: ...


class FulfilmentControl(Protocol):
    """Fulfilment (cti.mail.fulfilment.FulfilmentSender); refuses with ``FulfilmentError``."""

    async def catalogue(self) -> list[dict[str, Any]]: ...

    async def request(
        self, agent: str, customer_id: int, document_ids: list[int], linkedid: str = ""
    ) -> dict[str, Any]: ...


class LeadDispositions(Protocol):
    """``store.campaigns`` (cti.store.campaigns_repo): a campaign call's disposition reaches its lead."""

    async def dispose_lead(
        self, lead_id: int, code: str, *, agent: str, callback_at: float | None = None
    ) -> int | None: ...


class AccountLookup(Protocol):
    """``store.accounts``: a supervisor's account, for the phone (``interface``) they listen in on."""

    async def agent(self, username: str) -> Any: ...


class DispositionStore(Protocol):
    async def save_disposition(
        self, linkedid: str, agent: str, disposition: str, notes: str, *, server: str = ""
    ) -> Any: ...


def queue_named(hub: Hub, target: str) -> str:
    """The queue ``target`` names, as people type it ("Sales" is sales); DeskError unknown_queue if none."""
    known = set(hub.board.queues) | {q for s in hub.seats.values() for q in s.queues}
    name = {q.casefold(): q for q in known}.get(target.casefold(), target)
    if name not in known:
        raise DeskError("unknown_queue", f"no queue named {target}")
    return name


@dataclass(frozen=True, slots=True)
class Contexts:
    agent: str = "deliver"  # Exten = the agent's extension
    queue: str = "inbound"  # Exten = the queue name
    dial: str = "pstn"  # Exten = the number
    hold: str = "cti-hold"  # the held caller: MusicOnHold() (config/asterisk/extensions.conf)
    hold_agent: str = "cti-hold-agent"  # the agent's channel meanwhile: Wait(), quiet


@dataclass(slots=True)
class HeldCall:
    """A call cti put on hold: its channels then, and the timer that gives it back."""

    server: str
    linkedid: str
    agent: AgentId | None
    agent_channel: str
    caller_channel: str
    since: float
    timer: asyncio.TimerHandle | None = None


# codes of failures reported by another instance (cti.bus.commands.RemoteError) that consoles see;
# "unknown_outcome": the request got no answer and may still have been carried out (never re-sent);
# "not_sent": Redis could not be reached before the request was queued, so nothing was done;
# the others: the owner's own check of the request refused it
_REMOTE_CODES = {
    "no_owner": "no_server",
    "unknown_outcome": "unknown_outcome",
    "not_sent": "not_sent",
    "not_your_call": "forbidden",
    "refused": "forbidden",
    "no_channel": "no_channel",
    "unknown_agent": "unknown_agent",
    "not_member": "not_member",
    "bad_field": "bad_field",
}


def _error_code(error: Exception, default: str) -> str:
    return _REMOTE_CODES.get(str(getattr(error, "code", "")), default)


def reply_ok(reply: Any) -> tuple[bool, str]:
    """(success, Asterisk's message) of an AMI reply (a Message, or a list reply with ``ok``)."""
    ok = getattr(reply, "ok", None)
    if isinstance(ok, bool):
        return ok, ""
    get = getattr(reply, "get", None)
    if get is None:
        return False, "no reply"
    response = (get("Response") or "").lower()
    return response in ("success", "follows", "goodbye"), get("Message") or ""


def extension_of(interface: str) -> str | None:
    m = _EXTEN.match(interface)
    return m.group(1) if m else None


class Desk:
    def __init__(
        self,
        hub: Hub,
        servers: Callable[[str], AmiActions | DeskRequests | None],
        channels: CallChannels,
        store: DispositionStore,
        contexts: Mapping[str, Contexts] | Contexts | None = None,
        routing: RoutingControl | None = None,
        callbacks: CallbackControl | None = None,
    ) -> None:
        """``contexts``: the dialplan contexts of each Asterisk server (``[[asterisk]]`` keys), or one set
        for every server; a server not listed (one another instance is connected to) gets the defaults."""
        self.routing = routing
        self.callbacks = callbacks
        self.email: EmailControl | None = None  # set by the daemon with [email] enabled
        self.fulfilment: FulfilmentControl | None = None  # likewise: documents e-mailed to customers
        self.hub = hub
        self.servers = servers
        self.channels = channels
        self.store = store
        if isinstance(contexts, Contexts):
            self.default_contexts, self.contexts = contexts, {}
        else:
            self.default_contexts, self.contexts = Contexts(), dict(contexts or {})
        self.actions_sent = 0
        self.actions_failed = 0
        self.preview: PreviewControl | None = None  # the dialer, when [dialer] enabled (set at assembly)
        self.campaigns: CampaignActions | None = None  # the campaign page's actions (set at assembly)
        self.leads: LeadDispositions | None = None  # a dialer call's disposition reaches its lead
        self.accounts: AccountLookup | None = None  # supervisors' phones (listen, whisper, barge)
        self.dispositions: DispositionList | None = None  # the inbound codes (issue #12), from the store
        # CTI hold and parking ([web] hold_timeout, park_timeout, parking_lot, parking_context)
        self.hold_timeout = 300.0
        self.park_timeout = 120.0
        self.parking_lot = "default"
        self.parking_context = "parkedcalls"
        self.held: dict[tuple[str, str], HeldCall] = {}
        self._recalls: set[asyncio.Task[str]] = set()

    async def _dispose_lead(
        self, lid: str, code: str, agent: str, callback_at: float | None
    ) -> dict[str, Any]:
        """A dialer call whose campaign has dispositions: ``code`` goes to its lead (final: done; a
        callback with a time: a callback to the same agent, the lead not redialled meanwhile)."""
        lead = self.hub.lead_of.get(LinkedId(lid))
        if self.leads is None or not lead or lead.get("dispositions", "[]") == "[]" or "leadid" not in lead:
            return {}
        try:
            lead_id = int(lead["leadid"])
            callback = await self.leads.dispose_lead(lead_id, code, agent=agent, callback_at=callback_at)
        except UsageError as e:
            raise DeskError("bad_disposition", str(e), "disposition") from None
        except Exception as e:
            log.warning("disposition of the lead of %s not saved: %s", lid, e)
            raise DeskError("store_failed", "the lead's disposition could not be saved") from None
        return {"lead": lead_id, "lead_callback": callback}

    def collect(self) -> Iterable[Metric]:
        yield counter("actions_total", "AMI actions from consoles", self.actions_sent)
        yield counter("actions_failed_total", "console actions that failed", self.actions_failed)

    async def run(self, identity: Identity, cmd: p.Command) -> dict[str, Any]:
        """Carry out ``cmd``; returns the ``result`` message. Raises DeskError when refused or failed."""
        from cti.screenpop import consult  # warm transfers and conferences (it imports this module)

        match cmd:
            case p.Ready(agent=agent):
                return await self._ready(identity, self._for(identity, agent))
            case p.Pause(agent=agent, reason=reason):
                seat_agent = self._for(identity, agent)
                seat = self._seat(seat_agent)
                await self._ami(
                    seat.server,
                    {"Action": "QueuePause", "Interface": seat.interface, "Paused": "true", "Reason": reason},
                    ("pause", {"agent": seat_agent, "reason": reason}),
                )
                return {"agent": seat_agent, "state": "paused", "reason": reason}
            case p.Logout(agent=agent):
                seat_agent = self._for(identity, agent)
                seat = self._seat(seat_agent)
                if not seat.queues:
                    raise DeskError("not_member", f"{seat_agent} is in no queue")
                static: list[str] = []
                for queue in seat.queues:
                    try:
                        await self._ami(
                            seat.server,
                            {"Action": "QueueRemove", "Queue": queue, "Interface": seat.interface},
                            ("queue_remove", {"agent": seat_agent, "queue": queue}),
                        )
                    except DeskError as e:
                        # a member of queues.conf cannot be removed ("Member not dynamic"): paused instead
                        if e.code != "ami_refused" or "dynamic" not in e.message.lower():
                            raise
                        static.append(queue)
                if static:
                    await self._ami(
                        seat.server,
                        {
                            "Action": "QueuePause",
                            "Interface": seat.interface,
                            "Paused": "true",
                            "Reason": "logged out",
                        },
                        ("pause", {"agent": seat_agent, "reason": "logged out"}),
                    )
                    return {"agent": seat_agent, "state": "paused", "reason": "logged out", "static": static}
                return {"agent": seat_agent, "state": "logged_out"}
            case p.Hangup(linkedid=lid):
                server, agent = self._call(identity, lid)
                channel = (
                    (await self._conference_channel(server, lid, agent))
                    or (await self._channel(self.channels.agent_channel(server, lid, agent)))
                    if agent
                    else None
                ) or (await self._channel(self.channels.caller_channel(server, lid)))
                if channel is None:
                    raise DeskError("no_channel", "the call has no live channel")
                await self._ami(
                    server,
                    {"Action": "Hangup", "Channel": channel},
                    ("hangup", {"linkedid": lid, "agent": agent}),
                )
                if self._is_held(server, lid):  # the caller waits in cti-hold: never left there alone
                    await self._hang_up_held_caller(server, lid, channel)
                return {"linkedid": lid}
            case p.Hold(linkedid=lid, on=on):
                return await (self._hold(identity, lid) if on else self._unhold(identity, lid))
            case p.Park(linkedid=lid):
                return await self._park(identity, lid)
            case p.Pickup(linkedid=lid, server=server):
                return await self._pickup(identity, lid, server)
            case p.Transfer(linkedid=lid, to=to, target=target):
                return await self._transfer(identity, lid, to, target)
            case p.WarmTransfer():
                return await consult.warm_transfer(self, identity, cmd)
            case p.Consult():
                return await consult.consult(self, identity, cmd)
            case p.Conference():
                return await consult.conference(self, identity, cmd)
            case p.Dial(number=number, confirm=confirm):
                if identity.agent is None:
                    raise DeskError("forbidden", "only an agent seat can dial")
                if self.hub.normalize(number) is None:  # phonenumbers: 123 is no number, +1 (212) … is
                    raise DeskError("bad_number", f"{number} is not a phone number that can be dialled")
                if not confirm:
                    await self._check_do_not_call(number)
                seat = self._seat(identity.agent)
                action_id = str(uuid.uuid4())
                self.hub.originates[action_id] = identity.agent
                self.hub.dialled[action_id] = number
                try:
                    await self._ami(
                        seat.server,
                        {
                            "Action": "Originate",
                            "Channel": seat.interface,
                            "Context": self.contexts_of(seat.server).dial,
                            "Exten": number,
                            "Priority": "1",
                            "Async": "true",
                            "Timeout": "30000",
                            "CallerID": f'"{identity.agent}" <{number}>',
                            "ChannelId": action_id,
                        },
                        ("originate", {"agent": identity.agent, "number": number, "channel_id": action_id}),
                    )
                except DeskError:
                    self.hub.originates.pop(action_id, None)
                    self.hub.dialled.pop(action_id, None)
                    raise
                return {"number": number, "channel_id": action_id}
            case p.Disposition(linkedid=lid, disposition=disposition, notes=notes, callback_at=when):
                if not self.hub.may_disposition(identity, lid):
                    raise DeskError("forbidden", "not one of your calls")
                agent = identity.agent or identity.username
                await self._check_code(lid, disposition, when)
                lead = await self._dispose_lead(lid, disposition, agent, when)
                try:
                    server = self.hub.call_server(identity, lid)
                    await self.store.save_disposition(lid, agent, disposition, notes, server=server)
                except Exception as e:
                    log.warning("disposition for %s not saved: %s", lid, e)
                    raise DeskError("store_failed", "the disposition could not be saved") from None
                view = self.hub.calls.get(lid)  # type: ignore[call-overload]
                if view is not None and self.hub.directory is not None:
                    self.hub.directory.forget(view.number)
                if self.routing is not None and identity.agent is not None:
                    self.routing.disposition_filed(identity.agent)
                return {"linkedid": lid, "disposition": disposition, **lead}
            case p.SetSkills(agent=agent, skills=skills):
                if not identity.supervisor:
                    raise DeskError("forbidden", "only a supervisor changes skills")
                if self.routing is None:
                    raise DeskError("no_routing", "CTI routing is not enabled ([routing] enabled)")
                try:
                    saved = await self.routing.save_skills(AgentId(agent), skills)
                except KeyError:
                    raise DeskError("unknown_agent", f"no agent account with member name {agent!r}") from None
                except Exception as e:
                    log.warning("skills of %s not saved: %s", agent, e)
                    raise DeskError("store_failed", "the skills could not be saved") from None
                return {"agent": agent, "skills": dict(saved)}
            case p.EndWrapup(agent=agent):
                if self.routing is None:
                    raise DeskError("no_routing", "CTI routing is not enabled ([routing] enabled)")
                seat_agent = self._for(identity, agent)
                if not self.routing.end_wrapup(seat_agent):
                    raise DeskError(
                        "not_allowed", "not in wrap-up, or this queue does not let wrap-up end early"
                    )
                return {"agent": seat_agent, "state": "available"}
            case p.ScheduleCallback(number=number, at=at, agent=agent, queue=queue, note=note):
                if self.callbacks is None:
                    raise DeskError("no_callbacks", "callbacks need CTI routing ([routing] enabled)")
                if agent is None:  # for the asking agent (a supervisor names one, or "" for anyone)
                    if identity.agent is None:
                        raise DeskError("bad_field", "a supervisor names who makes the callback ('for')")
                    maker: AgentId | None = identity.agent
                elif agent and not identity.supervisor and agent != identity.agent:
                    raise DeskError("forbidden", "an agent schedules callbacks for themselves or anyone")
                else:
                    maker = AgentId(agent) if agent else None
                try:
                    return await self.callbacks.schedule(
                        number, at, maker, queue, identity.agent or identity.username, note
                    )
                except ValueError as e:
                    raise DeskError("bad_field", str(e)) from None
            case p.ListCallbacks(agent=agent):
                if self.callbacks is None:
                    raise DeskError("no_callbacks", "callbacks need CTI routing ([routing] enabled)")
                who = self._for(identity, agent)
                return {"agent": who, "callbacks": await self.callbacks.of_agent(who)}
            case p.CampaignAction():
                return await self._campaign(identity, cmd)
            case p.Spy(agent=agent, mode=mode):
                return await self._spy(identity, agent, mode)
            case p.PreviewDial(preview=pid) | p.PreviewSkip(preview=pid):
                if self.preview is None:
                    raise DeskError("no_dialer", "outbound campaigns are not enabled ([dialer] enabled)")
                if identity.agent is None:
                    raise DeskError("forbidden", "only the agent the card is for answers a preview")
                try:
                    if isinstance(cmd, p.PreviewDial):
                        return await self.preview.preview_dial(identity.agent, pid)
                    return await self.preview.preview_skip(identity.agent, pid)
                except ValueError as e:
                    code, message = e.args if len(e.args) == 2 else ("refused", str(e))
                    raise DeskError(str(code), str(message)) from None
            case p.EmailReply() | p.EmailClose():
                return await self._email(identity, cmd)
            case p.EmailAllowCalls(allow=allow):
                if self.email is None:
                    raise DeskError("no_email", "the e-mail channel is not enabled ([email] enabled)")
                if identity.agent is None:
                    raise DeskError("forbidden", "only an agent allows calls during its own tasks")
                self.email.allow_calls(identity.agent, allow)
                return {"allow": allow}
            case p.Documents() | p.Fulfil():
                return await self._fulfil(identity, cmd)
            case p.Dispositions():
                return await self._dispositions(identity, cmd)
            case _:
                raise DeskError("unknown_type", f"{type(cmd).__name__} is not an action")

    async def _spy(self, identity: Identity, agent: str | None, mode: str) -> dict[str, Any]:
        """Listen, whisper, barge or stop (cti.screenpop.spying); one session per supervisor."""
        if not identity.supervisor:
            raise DeskError("forbidden", "only a supervisor listens in on calls")
        spies = self.hub.spies
        current = spies.of(identity.username)
        if mode == "stop":
            if current is None:
                raise DeskError("not_spying", "you are not listening to any call")
            # before ChanSpyStart the phone still rings: its channel is found by its Uniqueid
            channel = current.spyer_channel or current.channel_id
            await self._ami(current.server, {"Action": "Hangup", "Channel": channel}, ("spy", {}))
            self.hub.spy_changed(spies.end(current))
            return current.to_json()
        assert agent is not None
        if current is not None and current.agent == agent:
            if current.mode != mode:
                if current.spyer_channel is None:
                    raise DeskError("not_started", "your phone has not answered yet: change mode once it has")
                await self._ami(
                    current.server,
                    {
                        "Action": "PlayDTMF",
                        "Channel": current.spyer_channel,
                        "Digit": spying.DIGIT[mode],
                        "Receive": "true",
                    },
                    ("spy", {}),
                )
                current.mode = mode
                self.hub.spy_changed(current)
            return current.to_json()
        if current is not None:
            raise DeskError("busy", f"you are listening to {current.agent}: stop that first")
        view = next(
            (v for v in self.hub.calls.values() if v.agent == agent and v.state not in ("ringing", "ended")),
            None,
        )
        if view is None:
            raise DeskError("no_call", f"{agent} is not on a call")
        spyee = await self._channel(self.channels.agent_channel(view.server, view.linkedid, AgentId(agent)))
        if spyee is None:
            raise DeskError("no_channel", f"{agent}'s call has no live channel")
        phone = await self._phone(identity.username)
        if isinstance(self.servers(view.server), DeskRequests):
            raise DeskError(
                "no_server", f"listening in goes through the instance connected to {view.server!r}"
            )
        session = spying.SpySession(
            identity.username,
            AgentId(agent),
            view.server,
            view.linkedid,
            spyee,
            mode,
            f"{SPY_CHANNEL_PREFIX}{uuid.uuid4()}",
            self.hub.now(),
        )
        spies.add(session)  # before the Originate: ChanSpyStart may come before its reply
        try:
            await self._ami(
                view.server,
                {
                    "Action": "Originate",
                    "Channel": phone,
                    "Application": "ChanSpy",
                    "Data": spying.chanspy_data(spyee, mode),
                    "CallerID": f'"{mode} {agent}" <{self._extension(AgentId(agent))}>',
                    "ChannelId": session.channel_id,
                    "Timeout": "30000",
                    "Async": "true",
                },
                ("spy", {}),
            )
        except DeskError:
            spies.end(session)
            raise
        self.hub.spy_changed(session)
        return session.to_json()

    def _extension(self, agent: AgentId) -> str:
        seat = self.hub.seats.get(agent)
        return (extension_of(seat.interface) if seat else None) or ""

    async def _phone(self, username: str) -> str:
        """The supervisor's own phone (their account's interface), or a clear refusal."""
        account = None
        if self.accounts is not None:
            try:
                account = await self.accounts.agent(username)
            except Exception as e:
                log.warning("the account of %s could not be read: %s", username, e)
                raise DeskError("store_failed", "your account could not be read: try again") from None
        phone = str(getattr(account, "interface", "") or "")
        if "/" not in phone:
            raise DeskError(
                "no_phone",
                f"your account has no phone to listen on: give it one "
                f"(cti store agent {username} --interface PJSIP/2001 --keep-password)",
            )
        return phone

    async def _campaign(self, identity: Identity, cmd: p.CampaignAction) -> dict[str, Any]:
        if not identity.supervisor:
            raise DeskError("forbidden", "campaigns are managed by supervisors")
        if self.campaigns is None:
            raise DeskError("no_campaigns", "the campaign page needs the store")
        c = self.campaigns
        try:
            match cmd.op:
                case "list":
                    listed = await c.list()
                    for row in listed["campaigns"]:
                        row["figures"] = await c.figures(row["name"])
                    return listed
                case "create":
                    return await c.create(cmd.name, cmd.settings)
                case "update":
                    return await c.update(cmd.name, cmd.settings)
                case "upload":
                    return await c.upload(cmd.name, cmd.list, cmd.csv, cmd.partial)
                case "figures":
                    return await c.figures(cmd.name)
                case _:
                    return await c.move(cmd.name, cmd.op)
        except SettingError as e:
            raise DeskError("bad_request", e.reason, e.field) from None
        except LookupError as e:
            raise DeskError("no_campaign", str(e), "name") from None

    async def _email(self, identity: Identity, cmd: p.EmailReply | p.EmailClose) -> dict[str, Any]:
        if self.email is None:
            raise DeskError("no_email", "the e-mail channel is not enabled ([email] enabled)")
        if identity.agent is None:
            raise DeskError("forbidden", "e-mail tasks are answered by the agent they are offered to")
        try:
            if isinstance(cmd, p.EmailReply):
                return await self.email.reply(identity.agent, cmd.task, cmd.body, cmd.disposition)
            return await self.email.close(identity.agent, cmd.task, cmd.disposition)
        except TaskError as e:  # unknown_task, send_failed
            raise DeskError(e.code, str(e)) from None

    async def _fulfil(self, identity: Identity, cmd: p.Documents | p.Fulfil) -> dict[str, Any]:
        from cti.mail.fulfilment import FulfilmentError

        if self.fulfilment is None:
            raise DeskError("no_email", "fulfilment needs the e-mail channel ([email] enabled)")
        if isinstance(cmd, p.Documents):
            return {"documents": await self.fulfilment.catalogue()}
        if not self.hub.may_disposition(identity, cmd.linkedid):
            raise DeskError("forbidden", "not one of your calls")
        agent = identity.agent or identity.username
        try:
            return await self.fulfilment.request(agent, cmd.customer, list(cmd.documents), cmd.linkedid)
        except FulfilmentError as e:
            raise DeskError(e.code, str(e)) from None

    async def _check_code(self, lid: str, code: str, callback_at: float | None) -> None:
        """An inbound call's code against the store's list. A campaign call (it has a lead) is not: its
        campaign's codes are checked by the lead store, and a campaign without codes takes any."""
        if self.dispositions is None or self.hub.lead_of.get(LinkedId(lid)):
            return
        try:
            await self.dispositions.choose(code, self.hub.queue_of.get(LinkedId(lid)), callback_at)
        except DispositionError as e:
            raise DeskError(e.code, e.message, e.field) from None
        except Exception as e:  # the store, for a code not known here
            log.warning("the disposition list could not be read: %s", e)
            raise DeskError("store_failed", "the disposition list could not be read") from None

    async def _dispositions(self, identity: Identity, cmd: p.Dispositions) -> dict[str, Any]:
        if self.dispositions is None:
            raise DeskError("no_dispositions", "the disposition list needs the store")
        if cmd.op != "list" and not identity.supervisor:
            raise DeskError("forbidden", "the disposition list is edited by supervisors")
        try:
            if cmd.op == "add":
                code = await self.dispositions.add(cmd.fields)
                log.info("disposition code %r saved by %s", code.code, identity.username)
            elif cmd.op == "remove":
                await self.dispositions.remove(cmd.code)
                log.info("disposition code %r removed by %s", cmd.code, identity.username)
        except DispositionError as e:
            raise DeskError(e.code, e.message, e.field) from None
        except Exception as e:
            log.warning("the disposition list was not saved: %s", e)
            raise DeskError("store_failed", "the disposition list could not be saved") from None
        return {"dispositions": self.dispositions.view()}

    def contexts_of(self, server: str) -> Contexts:
        return self.contexts.get(server, self.default_contexts)

    def _for(self, identity: Identity, agent: str | None) -> AgentId:
        if identity.supervisor:
            if agent is None:
                raise DeskError("bad_field", "a supervisor names the 'agent' to act for")
            return AgentId(agent)
        if agent is not None and agent != identity.agent:
            raise DeskError("forbidden", "an agent acts only for themselves")
        assert identity.agent is not None
        return identity.agent

    async def _check_do_not_call(self, number: str) -> None:
        """A number on the do-not-call list, or of a customer who asked not to be called, is refused
        (``do_not_call``) until the agent confirms. A store that does not answer does not block a call."""
        if self.hub.directory is None:
            return
        card = await self.hub.directory.lookup(number)
        data = card.data
        who = [c.get("name") or "a customer" for c in data.get("customers") or [] if c.get("do_not_call")]
        if data.get("number_do_not_call") or who:
            whose = f" ({', '.join(who)})" if who else ""
            raise DeskError(
                "do_not_call", f"{number}{whose} is on the do-not-call list: confirm to dial all the same"
            )

    def _seat(self, agent: AgentId) -> AgentSeat:
        seat = self.hub.seats.get(agent)
        if seat is None:
            raise DeskError("unknown_agent", f"no queue membership known for {agent}")
        return seat

    def _call(self, identity: Identity, lid: str) -> tuple[str, AgentId | None]:
        if not self.hub.may_act_on(identity, lid):
            raise DeskError("forbidden", "not one of your calls")
        view = self.hub.calls.get(lid)  # type: ignore[call-overload]
        if view is None:
            raise DeskError("no_call", "no such live call")
        agent = identity.agent if not identity.supervisor else view.agent
        return view.server, agent

    async def _ready(self, identity: Identity, agent: AgentId) -> dict[str, Any]:
        seat = self._seat(agent)
        if seat.state is AgentState.LOGGED_OUT:
            if not seat.queues:
                raise DeskError("not_member", f"{agent} has no queue to log in to")
            for queue in seat.queues:
                await self._ami(
                    seat.server,
                    {
                        "Action": "QueueAdd",
                        "Queue": queue,
                        "Interface": seat.interface,
                        "MemberName": agent,
                        "Paused": "false",
                    },
                    ("queue_add", {"agent": agent, "queue": queue}),
                )
        else:
            await self._ami(
                seat.server,
                {"Action": "QueuePause", "Interface": seat.interface, "Paused": "false"},
                ("ready", {"agent": agent}),
            )
        return {"agent": agent, "state": "available"}

    async def _transfer(self, identity: Identity, lid: str, to: str, target: str) -> dict[str, Any]:
        server, agent = self._call(identity, lid)
        contexts = self.contexts_of(server)
        if to == "agent":  # member names as people type them: "bob" is Bob
            folded = {a.casefold(): a for a in self.hub.seats}
            target = folded.get(target.casefold(), target)
            seat = self.hub.seats.get(AgentId(target))
            exten = extension_of(seat.interface) if seat else None
            if exten is None:
                raise DeskError("unknown_agent", f"no extension known for {target}")
            context = contexts.agent
        elif to == "queue":
            target = queue_named(self.hub, target)
            context, exten = contexts.queue, target
        else:
            context, exten = contexts.dial, target
        request = ("transfer", {"linkedid": lid, "agent": agent, "to": to, "target": target})
        channel = await self._channel(self.channels.agent_channel(server, lid, agent)) if agent else None
        if channel is not None and self._is_held(server, lid):
            # held: the caller is in cti-hold, bridged to nobody: it goes, then the agent's leg ends
            return await self._transfer_held(server, lid, agent, channel, context, exten, request)
        if channel is not None:
            await self._ami(
                server,
                {"Action": "BlindTransfer", "Channel": channel, "Context": context, "Exten": exten},
                request,
            )
        else:
            caller = await self._channel(self.channels.caller_channel(server, lid))
            if caller is None:
                raise DeskError("no_channel", "the call has no live channel")
            await self._ami(
                server,
                {
                    "Action": "Redirect",
                    "Channel": caller,
                    "Context": context,
                    "Exten": exten,
                    "Priority": "1",
                },
                request,
            )
        return {"linkedid": lid, "to": to, "target": target}

    # ---- CTI hold and parking (docs/design/hold-and-park.md) ---------------------------------------------
    def _is_held(self, server: str, lid: str) -> bool:
        view = self.hub.calls.get(LinkedId(lid))
        return (server, lid) in self.held or (view is not None and view.state == "held")

    async def _both_channels(self, server: str, lid: str, agent: AgentId | None) -> tuple[str, str]:
        if agent is None:
            raise DeskError("no_agent", "nobody answered the call: there is no agent's leg to hold")
        mine = await self._channel(self.channels.agent_channel(server, lid, agent))
        caller = await self._channel(self.channels.caller_channel(server, lid))
        if mine is None or caller is None or mine == caller:
            raise DeskError("no_channel", "the call has no live agent's and caller's channels")
        return mine, caller

    async def _hold(self, identity: Identity, lid: str) -> dict[str, Any]:
        """A dual Redirect out of the bridge: the caller to the music, the agent's channel to silence."""
        server, agent = self._call(identity, lid)
        if self._is_held(server, lid):
            raise DeskError("not_allowed", "the call is on hold already")
        view = self.hub.calls.get(LinkedId(lid))
        if view is not None and view.state != "answered":
            raise DeskError("not_allowed", f"only a call being talked on can be held (it is {view.state})")
        mine, caller = await self._both_channels(server, lid, agent)
        contexts = self.contexts_of(server)
        await self._ami(
            server,
            {
                "Action": "Redirect",
                "Channel": caller,
                "Context": contexts.hold,
                "Exten": "s",
                "Priority": "1",
                "ExtraChannel": mine,
                "ExtraContext": contexts.hold_agent,
                "ExtraExten": "s",
                "ExtraPriority": "1",
            },
            ("hold", {"linkedid": lid, "agent": agent}),
        )
        held = HeldCall(server, lid, agent, mine, caller, time.time())
        self.held[(server, lid)] = held
        if self.hold_timeout > 0:
            held.timer = asyncio.get_running_loop().call_later(self.hold_timeout, self._recall_due, held)
        return {"linkedid": lid, "held": True}

    async def _unhold(self, identity: Identity, lid: str) -> dict[str, Any]:
        server, agent = self._call(identity, lid)
        if not self._is_held(server, lid):
            raise DeskError("not_allowed", "the call is not on hold")
        mine, caller = await self._both_channels(server, lid, agent)
        await self._bridge_back(server, lid, agent, mine, caller)
        return {"linkedid": lid, "held": False}

    async def _bridge_back(
        self, server: str, lid: str, agent: AgentId | None, mine: str, caller: str
    ) -> None:
        await self._ami(
            server,
            {"Action": "Bridge", "Channel1": mine, "Channel2": caller, "Tone": "no"},
            ("unhold", {"linkedid": lid, "agent": agent}),
        )
        held = self.held.pop((server, lid), None)
        if held is not None and held.timer is not None:
            held.timer.cancel()

    async def _transfer_held(
        self,
        server: str,
        lid: str,
        agent: AgentId | None,
        mine: str,
        context: str,
        exten: str,
        request: tuple[str, dict[str, Any]],
    ) -> dict[str, Any]:
        caller = await self._channel(self.channels.caller_channel(server, lid))
        if caller is None:
            raise DeskError("no_channel", "the held call has no caller's channel")
        redirect = {
            "Action": "Redirect",
            "Channel": caller,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
        }
        # over Redis, no agent named: the owner Redirects the caller too (a BlindTransfer needs a bridge)
        await self._ami(server, redirect, (request[0], {**request[1], "agent": None}))
        held = self.held.pop((server, lid), None)
        if held is not None and held.timer is not None:
            held.timer.cancel()
        await self._ami(
            server, {"Action": "Hangup", "Channel": mine}, ("hangup", {"linkedid": lid, "agent": agent})
        )
        return {"linkedid": lid, "to": request[1]["to"], "target": request[1]["target"]}

    async def _hang_up_held_caller(self, server: str, lid: str, hung_up: str) -> None:
        held = self.held.pop((server, lid), None)
        if held is not None and held.timer is not None:
            held.timer.cancel()
        caller = await self._channel(self.channels.caller_channel(server, lid))
        if caller is None or caller == hung_up:
            return
        await self._ami(
            server, {"Action": "Hangup", "Channel": caller}, ("hangup", {"linkedid": lid, "agent": None})
        )

    def _recall_due(self, held: HeldCall) -> None:
        task = asyncio.get_running_loop().create_task(self.recall(held))
        self._recalls.add(task)
        task.add_done_callback(self._recalls.discard)

    async def recall(self, held: HeldCall) -> str:
        """A caller held ``hold_timeout`` seconds: given back to its agent when the agent's channel is
        still there (the agent hears the caller again), else requeued in the queue it came from (its
        first queue among the agent's); "" when the call is gone or was taken off hold meanwhile."""
        key = (held.server, held.linkedid)
        if self.held.get(key) is not held:
            return ""
        held.timer = None
        view = self.hub.calls.get(LinkedId(held.linkedid))
        caller = await self._channel(self.channels.caller_channel(held.server, held.linkedid))
        if view is None or caller is None:
            self.held.pop(key, None)
            return ""
        mine = (
            await self._channel(self.channels.agent_channel(held.server, held.linkedid, held.agent))
            if held.agent is not None
            else None
        )
        try:
            if mine is not None:
                await self._bridge_back(held.server, held.linkedid, held.agent, mine, caller)
                return "returned"
            queue = self._queue_of(view.pops, held.agent)
            self.held.pop(key, None)
            await self._ami(
                held.server,
                {
                    "Action": "Redirect",
                    "Channel": caller,
                    "Context": self.contexts_of(held.server).queue,
                    "Exten": queue,
                    "Priority": "1",
                },
                ("transfer", {"linkedid": held.linkedid, "agent": None, "to": "queue", "target": queue}),
            )
            return "requeued"
        except DeskError as e:
            log.warning("held call %s not given back: %s", held.linkedid, e.message)
            return ""

    def _queue_of(self, pops: Mapping[AgentId, Mapping[str, Any]], agent: AgentId | None) -> str:
        for pop in [pops[agent]] if agent is not None and agent in pops else list(pops.values()):
            queue = pop.get("call", {}).get("queue")
            if queue:
                return str(queue)
        seat = self.hub.seats.get(agent) if agent is not None else None
        if seat is not None and seat.queues:
            return seat.queues[0]
        raise DeskError("unknown_queue", "no queue to put the held caller back in")

    async def _park(self, identity: Identity, lid: str) -> dict[str, Any]:
        """``Park`` the caller (rung back on the agent's phone at the timeout); the agent's leg ends."""
        server, agent = self._call(identity, lid)
        mine, caller = await self._both_channels(server, lid, agent)
        action = {"Action": "Park", "Channel": caller, "TimeoutChannel": mine, "Parkinglot": self.parking_lot}
        if self.park_timeout > 0:
            action["Timeout"] = str(int(self.park_timeout * 1000))
        await self._ami(server, action, ("park", {"linkedid": lid, "agent": agent}))
        held = self.held.pop((server, lid), None)
        if held is not None and held.timer is not None:
            held.timer.cancel()
        try:  # the agent is alone in the bridge (or in cti-hold-agent): their leg is over
            await self._ami(
                server, {"Action": "Hangup", "Channel": mine}, ("hangup", {"linkedid": lid, "agent": agent})
            )
        except DeskError as e:
            log.info("the parker's leg of %s was not hung up: %s", lid, e.message)
        return {"linkedid": lid, "parked": True}

    async def _pickup(self, identity: Identity, lid: str, server: str) -> dict[str, Any]:
        if identity.agent is None:
            raise DeskError("forbidden", "a parked call is picked up on an agent's phone")
        row = self.hub.parked.get((server, lid)) or next(
            (r for (s, k), r in self.hub.parked.items() if k == lid and not server), None
        )
        if row is None:
            raise DeskError("no_call", "no such parked call (picked up already, or gone)")
        seat = self._seat(identity.agent)
        await self._ami(
            row["server"],
            {
                "Action": "Originate",
                "Channel": seat.interface,
                "Context": self.parking_context,
                "Exten": str(row["space"]),
                "Priority": "1",
                "Async": "true",
                "CallerID": f"Parked {row['space']} <{row['number']}>",
            },
            ("pickup", {"linkedid": lid, "agent": identity.agent, "space": row["space"]}),
        )
        return {"linkedid": lid, "space": row["space"]}

    async def _conference_channel(self, server: str, lid: str, agent: AgentId) -> str | None:
        """A colleague originated into the call's conference: their own channel (its Uniqueid, the
        Originate's ChannelId, is also its Linkedid; cti.screenpop.consult)."""
        hook = self.hub.consults
        channel_id = hook.own_channel_id(lid, agent) if hook is not None else None
        if channel_id is None:
            return None
        return await self._channel(
            self.channels.agent_channel(server, channel_id, agent)
        ) or await self._channel(self.channels.caller_channel(server, channel_id))

    async def _channel(self, lookup: Awaitable[str | None]) -> str | None:
        """A channel name, from this instance's tracker or, over Redis, the one connected to the server."""
        try:
            return await lookup
        except Exception as e:
            raise DeskError(_error_code(e, "channel_lookup_failed"), str(e)) from None

    async def _ami(self, server: str, action: dict[str, str], request: tuple[str, dict[str, Any]]) -> None:
        """Send ``action`` on this instance's link to ``server``; to a server another instance is connected
        to, send the desk-level ``request`` instead (that instance builds the action: cti.bus.commands)."""
        link = self.servers(server)
        if link is None:
            raise DeskError("no_server", f"Asterisk server {server!r} is not handled by this instance")
        try:
            if isinstance(link, DeskRequests):
                reply = await link.request(*request)
            else:
                reply = await link.send_action(action)
        except Exception as e:
            self.actions_failed += 1
            log.warning("AMI %s on %s failed: %s", action.get("Action"), server, e)
            raise DeskError(_error_code(e, "ami_failed"), f"{action.get('Action')} failed: {e}") from None
        ok, message = reply_ok(reply)
        if not ok:
            self.actions_failed += 1
            raise DeskError("ami_refused", f"Asterisk refused {action.get('Action')}: {message}")
        self.actions_sent += 1
