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
disposition    saved to the customer's history through the store (no AMI)
schedule_callback  a callback at a date and time, for the agent or anyone (cti.delivery.callbacks)
callbacks      the agent's open callbacks (a supervisor: any agent's)
preview_dial   the preview card's lead dialled and connected to the agent (cti.delivery.dialer)
preview_skip   the preview card's lead skipped, the next one offered (cti.delivery.dialer)
email_reply    the reply to the e-mail task offered to the agent, sent over SMTP (cti.mail.component)
email_close    the e-mail task's disposition without a reply
campaign       the campaign page (supervisors): list, create, update, upload, start, pause, end, figures
=============  ==============================================================================

Rules: an agent acts only for themselves and only on calls that rang them (and that no other agent
answered); a supervisor may act for any agent and on any call. Every refusal is a ``DeskError`` with a
code the client gets back.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cti.core.errors import UsageError
from cti.core.events import AgentState
from cti.core.ids import AgentId, LinkedId
from cti.dialer.settings import SettingError
from cti.mail.service import TaskError
from cti.screenpop import protocol as p
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


class DispositionStore(Protocol):
    async def save_disposition(
        self, linkedid: str, agent: str, disposition: str, notes: str, *, server: str = ""
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class Contexts:
    agent: str = "deliver"  # Exten = the agent's extension
    queue: str = "inbound"  # Exten = the queue name
    dial: str = "pstn"  # Exten = the number


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
                    await self._channel(self.channels.agent_channel(server, lid, agent)) if agent else None
                ) or (await self._channel(self.channels.caller_channel(server, lid)))
                if channel is None:
                    raise DeskError("no_channel", "the call has no live channel")
                await self._ami(
                    server,
                    {"Action": "Hangup", "Channel": channel},
                    ("hangup", {"linkedid": lid, "agent": agent}),
                )
                return {"linkedid": lid}
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
            case _:
                raise DeskError("unknown_type", f"{type(cmd).__name__} is not an action")

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
            known = set(self.hub.board.queues) | {q for s in self.hub.seats.values() for q in s.queues}
            target = {q.casefold(): q for q in known}.get(target.casefold(), target)
            if target not in known:
                raise DeskError("unknown_queue", f"no queue named {target}")
            context, exten = contexts.queue, target
        else:
            context, exten = contexts.dial, target
        request = ("transfer", {"linkedid": lid, "agent": agent, "to": to, "target": target})
        channel = await self._channel(self.channels.agent_channel(server, lid, agent)) if agent else None
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
