"""Configuration: one TOML file, typed sections, errors that name the file, the key and what is wrong.

Each section is a dataclass; the loader checks every key against it (unknown keys are errors, so a typo
never silently falls back to a default) and every value against the field's type.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from cti.core.errors import ConfigError
from cti.routing.policy import (
    Escalation,
    PolicyError,
    QueuePolicy,
    Selection,
    SkillNeed,
    check_overflows,
)

if TYPE_CHECKING:  # imported when the rules are built: holidays and phonenumbers load slowly (cti replay)
    from cti.core.dispositions import Code
    from cti.reports.kpi import Target
    from cti.routing.rules import RuleSet


@dataclass
class DaemonConfig:
    name: str = "cti-1"
    log_level: str = "info"
    log_format: str = "json"  # "json" or "text"


@dataclass
class AsteriskConfig:
    name: str = "pbx1"
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "cti"
    secret: str = ""
    auth: str = "md5"  # "md5" or "plain"
    # AMI over TLS (manager.conf [general] tlsenable = yes, usually port 5039): the login and every event
    # cross the network encrypted, and the server's certificate is verified (system CAs, or tls_ca_file)
    tls: bool = False
    tls_ca_file: str = ""  # PEM file of the CA (or self-signed certificate) that signed Asterisk's
    tls_verify: bool = True  # false: encrypt without checking who answers (tests, labs; never production)
    tls_server_name: str = ""  # the name in Asterisk's certificate, when it is not ``host``
    ping_interval: float = 5.0  # seconds between keepalive Pings
    dead_after: float = 15.0  # no Pong (or any data) for this long: the link is dead
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    # a link that logged in and carried traffic this long was stable: the reconnect delay starts over
    stable_after: float = 3.0
    event_queue_size: int = 10000
    holding_context: str = "inbound"
    holding_exten: str = "hold"
    agent_context: str = "deliver"  # transfer to an agent: BlindTransfer to <agent_context>,<extension>
    queue_context: str = "inbound"  # transfer to a queue: <queue_context>,<queue name>
    dial_context: str = "pstn"  # click-to-call and transfer to a number: <dial_context>,<number>
    inbound_contexts: list[str] = field(
        default_factory=lambda: ["inbound", "from-trunk", "from-pstn", "from-external", "from-did"]
    )  # a call that starts in one of these is inbound
    wrapup_seconds: dict[str, float] = field(default_factory=dict)  # queues.conf wrapuptime, per queue
    # Asterisk's durable logs, read to repair the call records after every AMI gap and restart
    # (docs/design/records-repair.md): "" off, "files" (cti beside Asterisk) or "pgsql" (the tables)
    records: str = ""
    records_queue_log: str = ""  # files: /var/log/asterisk/queue_log
    records_cdr: str = ""  # files: cdr_csv's /var/log/asterisk/cdr-csv/Master.csv (newcdrcolumns = yes)
    records_cel: str = ""  # files: cel_custom's /var/log/asterisk/cel-custom/Master.csv ("" = no CEL)
    records_url: str = ""  # pgsql: the database cdr_pgsql, cel_pgsql and res_config_pgsql write to
    records_cdr_table: str = "cdr"
    records_cel_table: str = "cel"  # "" = no CEL
    records_queue_log_table: str = "queue_log"
    records_poll: float = 1.0  # seconds between reads of the logs
    records_settle: float = 1.0  # seconds a call is complete in the log before it is reconciled
    records_keep_hours: float = 4.0  # how far back the logs are read at start, and kept in memory


@dataclass
class StoreConfig:
    url: str = "sqlite+aiosqlite:///var/cti.db"
    default_country: str = "US"
    batch_size: int = 500
    flush_interval: float = 1.0
    seed_demo: bool = False
    max_pending: int = 10_000  # finished calls kept in memory while the store is down
    spill_file: str = "var/cti-spill.jsonl"  # ... the rest, in order, until it is back; "" = memory only


@dataclass
class RedisConfig:
    url: str = ""  # empty: in-process event bus only (one instance)
    stream: str = "cti:events"
    command_prefix: str = "cti"  # keys of the commands between instances: <prefix>:cmd:<server>, ...
    command_key: str = ""  # HMAC-SHA256 key signing those commands; required with url, same everywhere


@dataclass
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token_ttl: int = 3600  # consoles refresh their token before it expires
    resume_window: float = 120.0
    client_buffer: int = 1000
    max_message_bytes: int = 64 * 1024
    secret: str = ""  # HMAC key for tokens; empty: a random one per start
    secret_file: str = ""  # with secret empty: a random key kept in this file (tokens outlive a restart)
    # CTI hold (docs/design/hold-and-park.md): a caller held this long is given back to its agent (a
    # Bridge), or requeued when the agent's leg is gone; 0: never
    hold_timeout: float = 300.0
    park_timeout: float = 120.0  # a parked call rings its parker back after this long (Park Timeout)
    parking_lot: str = "default"  # res_parking.conf's lot, picked up from parking_context,<space>
    parking_context: str = "parkedcalls"


@dataclass
class ReportsConfig:
    service_level_seconds: float = 20.0
    service_level: dict[str, float] = field(default_factory=dict)  # per-queue threshold overrides
    # the dispositions that count as a good outcome in the agent report (agents are judged by outcomes)
    success_dispositions: list[str] = field(default_factory=lambda: ["resolved", "sale"])
    # abandons after a wait shorter than this are short (excluded from the suites' service levels); 0: none
    short_abandon_seconds: float = 0.0
    # what a disposition means for the agent-performance report: "resolution" or "sale" (docs/metrics.md)
    outcomes: dict[str, str] = field(default_factory=lambda: {"resolved": "resolution", "sale": "sale"})
    # hours after a call in which the caller's orders count as that call's revenue (agent performance)
    revenue_window_hours: float = 24.0
    campaign_budgets: dict[str, float] = field(default_factory=dict)  # campaign -> spend, for cost/conversion

    def threshold(self, queue: str) -> float:
        return self.service_level.get(queue, self.service_level_seconds)

    def short_abandon(self, queue: str) -> float:
        """The short-abandon threshold, never above the queue's service-level threshold."""
        return min(self.short_abandon_seconds, self.threshold(queue))


@dataclass
class InboundDispositionConfig:
    """One ``[[disposition]]`` (cti.core.dispositions): a code agents may give an inbound call. The
    store is seeded with the list when its table is empty; supervisors edit it from then on."""

    code: str = ""
    label: str = ""  # what agents read; empty: the code (or the catalogue's word for it)
    outcome: str = ""  # resolution, sale or none; empty: what [reports] says of the code
    queues: list[str] = field(default_factory=list)  # offered on these queues' calls only; empty: all
    callback: bool = False  # a callback time is required with this code
    active: bool = True
    position: int | None = None  # the order on the card; default: the place in the list


@dataclass
class KpiTargetConfig:
    """One ``[[kpi.target]]`` (cti/reports/kpi.py): a live figure against a threshold."""

    metric: str = ""  # a live figure: service_level, abandon_rate, avg_wait_answered, max_wait, waiting, ...
    scope: str = "queue"  # center, queue or agent
    name: str = ""  # the queue or agent; empty: every queue / agent (and always for the center)
    threshold: float | None = None
    direction: str = ""  # min: the figure must be >= threshold; max: <= threshold
    warn: float | None = None  # warn first at this level (default: the threshold, no warn level)
    hysteresis: float | None = None  # default: half the distance between warn and threshold


@dataclass
class KpiConfig:
    target: list[KpiTargetConfig] = field(default_factory=list)

    def targets(self, path: str = "<config>") -> list[Target]:
        """The checked targets; a wrong one is a ConfigError naming its key."""
        from cti.reports.kpi import KpiError, Target

        out = []
        for i, t in enumerate(self.target):
            try:
                out.append(
                    Target.build(t.metric, t.scope, t.name, t.threshold, t.direction, t.warn, t.hysteresis)
                )
            except KpiError as e:
                raise ConfigError(path, f"kpi.target[{i}].{e.field}", e.problem) from None
        return out


@dataclass
class TiersConfig:
    window_days: int = 365
    recompute_every_hours: float = 24.0  # the daemon recomputes tiers on this schedule; 0: never


@dataclass
class EscalationConfig:
    """One step of ``[[routing.queues.<q>.escalation]]``: what a call accepts after ``after`` seconds."""

    after: float = 0.0
    min_level: int = 0  # 0: unchanged; else any level >= this in the required skills
    drop: list[str] = field(default_factory=list)  # skills no longer required
    add_agents_with: list[str] = field(default_factory=list)  # generalists: agents with any of these
    overflow_to: str = ""  # agents of this queue become eligible; the call keeps its place
    priority: int = 0  # added to the call's priority from this step on


@dataclass
class RoutingQueueConfig:
    """``[routing.queues.<name>]``: how cti routes the calls of one queue (docs/routing.md)."""

    skills: list[str] = field(default_factory=list)  # "sales:3" (level 1 when omitted)
    selection: str = "longest_idle"  # longest_idle, fewest_calls, least_talk, weighted
    wait_weight: float = 1.0
    idle_weight: float = 1.0
    best_fit: bool = True
    priority: int = 0
    tier_priority: dict[str, int] = field(default_factory=dict)  # value tier -> priority added
    tier_skills: dict[str, str] = field(default_factory=dict)  # value tier -> skill required ("vip:1")
    relationship_seconds: float = 0.0  # the customer's owner / last agent first, for this long
    reservation_timeout: float = 5.0
    ring_timeout: float = 20.0
    miss_retry: float = 30.0
    max_misses: int = 3
    miss_pause_reason: str = "ring-no-answer"
    wrapup_seconds: float = 0.0
    wrapup_early_end: bool = True
    need_disposition: bool = False
    members: list[str] = field(default_factory=list)  # empty: any agent with the skills
    escalation: list[EscalationConfig] = field(default_factory=list)
    service_level_order: float = 0.0  # > 0: serve the calls still within this wait first (router 1a)
    # the estimated wait at entry (EWT, docs/routing.md): 0 = off
    offer_callback_above: float = 0.0  # EWT above this (seconds): offer the caller a callback
    overflow_if_ewt_above: float = 0.0  # EWT above this (seconds): the call joins overflow_to instead
    overflow_to: str = ""  # the overflow queue (its entry time and priority kept)
    # the dialplan's periodic announcement (inbound,t: AGI .../announce) asks cti again every this many
    # seconds ([globals] CTI_ANNOUNCE_EVERY in the sample dialplan; cti simulate announces at it): the
    # EWT is re-estimated, the overflow re-decided, the callback offered again. 0: at entry only
    announce_every: float = 0.0
    offer_callback_every: float = (
        0.0  # an offer heard: again at an announcement this long after (0: once per rise)
    )


@dataclass
class CallbacksConfig:
    """``[routing.callbacks]``: callbacks that keep their place (docs/routing.md, "Callbacks")."""

    enabled: bool = True
    key: str = "1"  # the key a waiting caller presses (the sample dialplan's inbound,1; documentation)
    attempts: int = 3  # attempts in all, the first one included
    spacing: float = 120.0  # seconds between two attempts
    ring_timeout: float = 30.0  # seconds the customer's phone rings per attempt
    # the customer's channel: {number} is the E.164 number without '+', {e164} with it
    channel: str = "PJSIP/{number}@trunk"
    caller_id: str = ""  # the number customers see ("" : Asterisk's default for the trunk)
    poll_interval: float = 5.0  # seconds between looks in the store for callbacks that became due
    max_days_ahead: float = 90.0  # how far ahead a callback may be scheduled


@dataclass
class RecycleConfig:
    """``recycling.<outcome>`` of a ``[[dialer.campaign]]``: retry ``delay`` seconds after such an
    attempt, at most ``max`` attempts with that outcome (cti.dialer.recycling)."""

    delay: float = 0.0
    max: int = 0  # required: >= 1


@dataclass
class DispositionConfig:
    """One ``[[dialer.campaign.disposition]]``: a code the agent may give a lead of the campaign."""

    code: str = ""
    final: bool = True  # ends the lead
    sale: bool = False  # counted as a sale
    callback: bool = False  # asks for a time: a callback to the same agent


@dataclass
class CampaignConfig:
    """One ``[[dialer.campaign]]``: an outbound campaign's execution (docs/design/dialer.md)."""

    name: str = ""
    mode: str = "progressive"  # preview, progressive, predictive, agentless
    queue: str = ""  # the routed queue whose agents take its calls (not used by agentless)
    channel: str = "PJSIP/{number}@trunk"  # {number}: E.164 without '+', {e164}: with it
    caller_id: str = ""
    max_lines: int = 10  # the trunk capacity this campaign may use at once
    ring_timeout: float = 25.0  # seconds (the FTC asks for at least 15)
    amd_machine: str = "hangup"  # hangup or message (leave the campaign's message)
    script: str = ""  # shown to the agent in the pop
    blended: list[str] = field(default_factory=list)  # agents that blend inbound and outbound
    answer_rate: float = 0.2  # predictive: the prior live-answer rate per dial (estimated online after)
    talk_seconds: float = 120.0  # predictive: the prior mean talk time (estimated online after)
    recycling: dict[str, RecycleConfig] = field(default_factory=dict)  # outcome -> rule; none: the store's
    disposition: list[DispositionConfig] = field(default_factory=list)  # none: the store's


@dataclass
class DialerConfig:
    """``[dialer]``: the outbound dialer (cti.delivery.dialer)."""

    enabled: bool = False
    context: str = "cti-dialer"  # where an answered call lands: AMD, UserEvent(AMDResult), hold
    message_context: str = "cti-dialer-message"  # the safe-harbour message (abandons, agentless)
    machine_context: str = "cti-dialer-machine"  # a message left on an answering machine
    connect_seconds: float = 2.0  # a live answer reaches an agent within this, or is dropped
    poll_interval: float = 1.0  # seconds between pacing decisions
    blend_idle_above: int = 2  # inbound idle agents above this: blended agents go outbound
    blend_service_level_below: float = 0.8  # inbound service level below this: they come back
    preview_seconds: float = 30.0  # a preview card not answered (Dial/Skip) within this is returned
    hopper_ahead_minutes: float = 1.0  # leads fetched ahead of the dial rate (each read again after 60 s)
    hopper_alarm_minutes: float = 30.0  # alarm when the callable leads left last less than this
    reload_seconds: float = (
        2.0  # how often the campaigns' settings and start/pause are re-read from the store
    )
    campaign: list[CampaignConfig] = field(default_factory=list)


@dataclass
class ScheduleConfig:
    """``[routing.schedules.<name>]``: a site's weekly opening hours, time zone and public holidays."""

    timezone: str = "UTC"  # an IANA zone: Europe/Paris (daylight saving is the zone's)
    hours: dict[str, list[str]] = field(default_factory=dict)  # mon..sun -> ["08:00-12:00", "13:00-18:00"]
    country: str = ""  # public holidays of this country (the holidays package), closed; "": none
    subdivision: str = ""  # a state or region of the country, for its own holidays (US: "CA")
    holiday_hours: list[str] = field(default_factory=list)  # open these hours on a public holiday
    closed_dates: list[str] = field(default_factory=list)  # more closed days, "YYYY-MM-DD"


@dataclass
class RuleConfig:
    """One ``[[routing.rules]]``: conditions (all must hold; left out: any), then where the call goes."""

    name: str = ""
    queue: str = ""
    dids: list[str] = field(default_factory=list)
    callers: list[str] = field(default_factory=list)  # numbers, or prefixes ending in "*": "+44*"
    caller_regions: list[str] = field(default_factory=list)  # the caller's country: ["GB", "IE"]
    tiers: list[str] = field(default_factory=list)  # the CRM's value tier: ["A"]
    owner: bool | None = None  # the caller has an account owner (who then gets the call first)
    complaint: bool | None = None  # the caller has an open complaint
    choices: list[str] = field(default_factory=list)  # the IVR key
    during: str = ""  # only while this schedule is open
    schedule: str = ""  # while it is closed: the closed-hours handling below
    priority: int = 0
    skills: list[str] = field(default_factory=list)  # added to the queue's: "complaints:3"
    closed: str = "voicemail"  # voicemail, callback or message
    closed_target: str = ""  # the mailbox or the message's sound file


@dataclass
class AgiConfig:
    """``[agi]``: the FastAGI server the dialplan asks where a call goes (cti.delivery.agi)."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 4573
    deadline: float = 0.3  # seconds: cti answers within this (a CRM look-up slower than it is skipped)
    header_timeout: float = 2.0  # a connection that sends no complete AGI request by then is closed


@dataclass
class RoutingConfig:
    """``[routing]``: CTI-routed delivery (calls wait in the holding extension; cti picks the agent)."""

    enabled: bool = False
    default_queue: str = ""  # where a held call goes when neither its DID nor its IVR choice is mapped
    dids: dict[str, str] = field(default_factory=dict)  # DID -> queue
    choices: dict[str, str] = field(default_factory=dict)  # IVR choice -> queue
    queue_log: str = ""  # path of the Asterisk-format queue_log cti writes for the calls it routes
    lease_ttl: float = 30.0  # with Redis: how long an instance holds an agent and a call it delivers
    lookup_timeout: float = 0.5  # the CRM look-up (tier, owner) a held call waits for, at most
    queues: dict[str, RoutingQueueConfig] = field(default_factory=dict)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    rules: list[RuleConfig] = field(default_factory=list)  # inbound rules, first match wins
    schedules: dict[str, ScheduleConfig] = field(default_factory=dict)
    closed_context: str = "closed"  # closed hours: the held call goes to <closed_context>,<action>,1
    default_handle_seconds: float = 180.0  # the handle time EWT assumes before calls were measured

    def ruleset(self, region: str, path: str = "<config>") -> RuleSet:
        """The inbound rules, then ``dids``, ``choices`` and ``default_queue`` as rules (rules.py rule 5)."""
        from cti.routing.rules import RuleSet, Schedule

        queues = list(self.queues)
        try:
            schedules = {
                n: Schedule.build(
                    n,
                    s.timezone,
                    s.hours,
                    country=s.country,
                    subdivision=s.subdivision,
                    holiday_hours=s.holiday_hours,
                    closed_dates=s.closed_dates,
                )
                for n, s in self.schedules.items()
            }
            rules = [
                RuleSet.rule(
                    i,
                    r.name,
                    r.queue,
                    region,
                    dids=r.dids,
                    callers=r.callers,
                    caller_regions=r.caller_regions,
                    tiers=r.tiers,
                    owner=r.owner,
                    complaint=r.complaint,
                    choices=r.choices,
                    during=r.during,
                    schedule=r.schedule,
                    priority=r.priority,
                    skills=r.skills,
                    closed=r.closed,
                    closed_target=r.closed_target,
                )
                for i, r in enumerate(self.rules)
            ]
            n = len(rules)
            for did, q in self.dids.items():
                rules.append(RuleSet.rule(n, f"dids.{did}", q, region, dids=[did]))
                n += 1
            for choice, q in self.choices.items():
                rules.append(RuleSet.rule(n, f"choices.{choice}", q, region, choices=[choice]))
                n += 1
            if self.default_queue:
                rules.append(RuleSet.rule(n, "default_queue", self.default_queue, region))
            return RuleSet(rules, schedules, queues, region)
        except PolicyError as e:
            raise ConfigError(path, e.key, e.reason) from None

    def policies(self, path: str = "<config>") -> dict[str, QueuePolicy]:
        """The routing core's policies; every error names the key."""
        out: dict[str, QueuePolicy] = {}
        for name, q in self.queues.items():
            key = f"routing.queues.{name}"
            try:
                selection = Selection(q.selection)
            except ValueError:
                known = ", ".join(s.value for s in Selection)
                raise ConfigError(path, f"{key}.selection", f"must be one of {known}") from None
            try:
                out[name] = QueuePolicy(
                    name,
                    skills=tuple(SkillNeed.parse(s, f"{key}.skills") for s in q.skills),
                    selection=selection,
                    wait_weight=q.wait_weight,
                    idle_weight=q.idle_weight,
                    best_fit=q.best_fit,
                    escalation=tuple(
                        Escalation(
                            e.after,
                            e.min_level or None,
                            tuple(e.drop),
                            tuple(e.add_agents_with),
                            e.overflow_to or None,
                            e.priority,
                        )
                        for e in q.escalation
                    ),
                    priority=q.priority,
                    tier_priority=dict(q.tier_priority),
                    tier_skills={
                        t: SkillNeed.parse(s, f"{key}.tier_skills.{t}") for t, s in q.tier_skills.items()
                    },
                    relationship_seconds=q.relationship_seconds,
                    reservation_timeout=q.reservation_timeout,
                    ring_timeout=q.ring_timeout,
                    miss_retry=q.miss_retry,
                    max_misses=q.max_misses,
                    miss_pause_reason=q.miss_pause_reason,
                    wrapup_seconds=q.wrapup_seconds,
                    wrapup_early_end=q.wrapup_early_end,
                    need_disposition=q.need_disposition,
                    members=frozenset(q.members),
                    service_level_order=q.service_level_order,
                    offer_callback_above=q.offer_callback_above,
                    overflow_if_ewt_above=q.overflow_if_ewt_above,
                    overflow_to=q.overflow_to or None,
                    announce_every=q.announce_every,
                    offer_callback_every=q.offer_callback_every,
                )
            except PolicyError as e:
                raise ConfigError(path, e.key, e.reason) from None
        try:
            check_overflows(out)
        except PolicyError as e:
            raise ConfigError(path, e.key, e.reason) from None
        return out


@dataclass
class ApiConfig:
    """``[api]``: the HTTP API for CRM integration (docs/api.json), on a listener of its own."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8090  # 0: any free port
    max_body_bytes: int = 16384


@dataclass
class EmailConfig:
    """``[email]``: the e-mail channel (issue #13): inbound SMTP/IMAP, outgoing relay, quarantine."""

    enabled: bool = False
    host: str = "127.0.0.1"  # the inbound ESMTP server's listen address
    port: int = 2525  # 0: any free port
    imap_url: str = ""  # imap://user:password@host:143/INBOX ("": no IMAP polling)
    imap_poll_seconds: float = 60.0
    relay_host: str = "127.0.0.1"  # outgoing replies and fulfilment
    relay_port: int = 25
    from_address: str = "cti@localhost"
    size_limit_bytes: int = 10 * 1024 * 1024  # advertised (ESMTP SIZE) and enforced
    deadline_hours: float = 24.0  # the service-level deadline of an e-mail task
    unknown_senders: str = "task"  # "task" (a task without a customer) or "quarantine"
    loop_max_repeats: int = 5  # more messages than this from one sender within loop_window_seconds:
    loop_window_seconds: float = 600.0  # quarantined as a mail loop
    send_attempts: int = 4  # delivery tries in all (backoff 30 s, x4, at most 1 h)
    fulfilment_attempts: int = (
        5  # document sendings: tries in all before giving up (stored, survive restarts)
    )
    fulfilment_retry_seconds: float = 60.0  # the first retry's wait (then x4, at most 1 h)
    fulfilment_subject: str = "Your documents"
    fulfilment_body: str = "Please find attached: {documents}.\n"
    calls_interrupt_tasks: bool = False  # a call may ring an agent working an e-mail task


@dataclass
class Config:
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    asterisk: list[AsteriskConfig] = field(default_factory=list)
    store: StoreConfig = field(default_factory=StoreConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    web: WebConfig = field(default_factory=WebConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    kpi: KpiConfig = field(default_factory=KpiConfig)
    tiers: TiersConfig = field(default_factory=TiersConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    agi: AgiConfig = field(default_factory=AgiConfig)
    dialer: DialerConfig = field(default_factory=DialerConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    disposition: list[InboundDispositionConfig] = field(default_factory=list)
    path: str = "<defaults>"

    def dispositions(self) -> list[Code]:
        """The inbound disposition list to seed the store with: ``[[disposition]]``, else the default
        codes with their ``[reports]`` meaning; a bad entry is a ConfigError naming its key."""
        from cti.core.dispositions import DispositionError, build_list, defaults, meaning

        r = self.reports
        if not self.disposition:
            return defaults(r.success_dispositions, r.outcomes)
        raws = []
        for d in self.disposition:
            raw = {k: v for k, v in dataclasses.asdict(d).items() if v is not None}
            raw["outcome"] = d.outcome or meaning(d.code, r.success_dispositions, r.outcomes)
            raws.append(raw)
        try:
            return build_list(raws)
        except DispositionError as e:
            raise ConfigError(self.path, f"disposition{e.field}", e.message) from None


T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check(path: str, key: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, key, f"expected a number, got {value!r}")
        return float(value)
    if tp in (int, str, bool):
        if isinstance(value, bool) != (tp is bool) or not isinstance(value, tp):
            raise ConfigError(path, key, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, key, f"expected a table, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _check(path, f"{key}.{k}", v, vt) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(path, key, f"expected a list, got {value!r}")
        (it,) = typing.get_args(tp)
        return [_check(path, f"{key}[{i}]", v, it) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None) and value is None:
                return None
            try:
                return _check(path, key, value, arg)
            except ConfigError:
                continue
        raise ConfigError(path, key, f"unexpected value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(path, key, f"expected a table, got {value!r}")
        return section(path, key, value, tp)  # type: ignore[arg-type]
    raise ConfigError(path, key, f"unsupported type {tp!r}")


def section(path: str, prefix: str, raw: dict[str, Any], cls: type[T]) -> T:
    """Build dataclass ``cls`` from a TOML table, checking every key and type."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for k, v in raw.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in names or k == "path":
            known = ", ".join(sorted(n for n in names if n != "path"))
            raise ConfigError(path, key, f"unknown key (known keys: {known})")
        kwargs[k] = _check(path, key, v, hints[k])
    return cls(**kwargs)


def parse_config(text: str, path: str = "<string>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "<syntax>", f"invalid TOML: {e}") from None
    cfg = section(path, "", raw, Config)
    cfg.path = path
    _validate(cfg)
    return cfg


def load_config(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), "<file>", "no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(str(p), "<file>", "not UTF-8 text") from None
    return parse_config(text, str(p))


def _validate(cfg: Config) -> None:
    p = cfg.path
    seen: set[str] = set()
    for i, a in enumerate(cfg.asterisk):
        key = f"asterisk[{i}]"
        if a.name in seen:
            raise ConfigError(p, f"{key}.name", f"duplicate server name {a.name!r}")
        seen.add(a.name)
        if a.auth not in ("md5", "plain"):
            raise ConfigError(p, f"{key}.auth", f"must be 'md5' or 'plain', not {a.auth!r}")
        if a.records not in ("", "files", "pgsql"):
            raise ConfigError(p, f"{key}.records", f"must be '', 'files' or 'pgsql', not {a.records!r}")
        if a.records == "files" and not (a.records_queue_log and a.records_cdr):
            raise ConfigError(
                p, f"{key}.records_queue_log", "records = 'files' needs records_queue_log and records_cdr"
            )
        if a.records == "pgsql" and not a.records_url:
            raise ConfigError(p, f"{key}.records_url", "records = 'pgsql' needs records_url")
        for name in ("records_cdr_table", "records_cel_table", "records_queue_log_table"):
            table = getattr(a, name)
            if table and not table.replace("_", "").replace(".", "").isalnum():
                raise ConfigError(p, f"{key}.{name}", f"not a table name: {table!r}")
        if a.records_poll <= 0 or a.records_settle < 0 or a.records_keep_hours <= 0:
            raise ConfigError(
                p, f"{key}.records_poll", "records_poll and records_keep_hours must be positive"
            )
        if not 0 < a.port < 65536:
            raise ConfigError(p, f"{key}.port", f"port {a.port} out of range")
        if a.ping_interval <= 0 or a.dead_after <= a.ping_interval:
            raise ConfigError(p, f"{key}.dead_after", "must be greater than ping_interval (> 0)")
        if not 0 < a.reconnect_min <= a.reconnect_max:
            raise ConfigError(p, f"{key}.reconnect_min", "must be > 0 and <= reconnect_max")
        if a.stable_after <= 0:
            raise ConfigError(p, f"{key}.stable_after", "must be > 0")
        for q, w in a.wrapup_seconds.items():
            if w < 0:
                raise ConfigError(p, f"{key}.wrapup_seconds.{q}", "must be >= 0")
        if a.tls_ca_file and not Path(a.tls_ca_file).is_file():
            raise ConfigError(p, f"{key}.tls_ca_file", f"no such file: {a.tls_ca_file}")
        if (a.tls_ca_file or a.tls_server_name or not a.tls_verify) and not a.tls:
            raise ConfigError(p, f"{key}.tls", "TLS settings are given but tls is false")
        if a.event_queue_size < 100:
            raise ConfigError(p, f"{key}.event_queue_size", "must be at least 100")
    if cfg.daemon.log_format not in ("json", "text"):
        raise ConfigError(p, "daemon.log_format", "must be 'json' or 'text'")
    if cfg.daemon.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(p, "daemon.log_level", "must be debug, info, warning or error")
    if cfg.web.hold_timeout < 0 or cfg.web.park_timeout < 0:
        raise ConfigError(p, "web.hold_timeout", "hold_timeout and park_timeout are seconds, 0 or more")
    if not 0 <= cfg.web.port < 65536:  # 0: any free port (printed at start)
        raise ConfigError(p, "web.port", f"port {cfg.web.port} out of range")
    if cfg.redis.url and len(cfg.redis.command_key) < 16:
        raise ConfigError(
            p,
            "redis.command_key",
            "required with [redis] url (it signs the commands between instances): "
            "at least 16 characters, the same on every instance",
        )
    import phonenumbers  # here: `cti replay --config` need not load it (start-up time)

    if cfg.store.default_country.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(p, "store.default_country", f"unknown region code {cfg.store.default_country!r}")
    if cfg.store.batch_size < 1:
        raise ConfigError(p, "store.batch_size", "must be at least 1")
    if cfg.store.max_pending < cfg.store.batch_size:
        raise ConfigError(p, "store.max_pending", "must be at least store.batch_size")
    if "://" not in cfg.store.url:
        raise ConfigError(p, "store.url", "must be an SQLAlchemy URL, e.g. sqlite+aiosqlite:///var/cti.db")
    if cfg.reports.service_level_seconds <= 0:
        raise ConfigError(p, "reports.service_level_seconds", "must be > 0")
    if cfg.tiers.window_days < 1:
        raise ConfigError(p, "tiers.window_days", "must be at least 1")
    if cfg.tiers.recompute_every_hours < 0:
        raise ConfigError(p, "tiers.recompute_every_hours", "must be >= 0 (0: never)")
    _validate_routing(cfg)
    _validate_callbacks(cfg)
    _validate_dialer(cfg)
    cfg.kpi.targets(p)
    _validate_email(cfg)
    cfg.dispositions()
    for i, d in enumerate(cfg.reports.success_dispositions):
        if not d.strip():
            raise ConfigError(p, f"reports.success_dispositions[{i}]", "must not be empty")
    r = cfg.reports
    if r.short_abandon_seconds < 0:
        raise ConfigError(p, "reports.short_abandon_seconds", "must be >= 0 (0: no abandon is short)")
    for q, t in r.service_level.items():
        if t <= 0:
            raise ConfigError(p, f"reports.service_level.{q}", "must be > 0")
    for d, o in r.outcomes.items():
        if o not in ("resolution", "sale"):
            raise ConfigError(p, f"reports.outcomes.{d}", f"{o!r}: must be 'resolution' or 'sale'")
    if r.revenue_window_hours < 0:
        raise ConfigError(p, "reports.revenue_window_hours", "must be >= 0")
    for c, b in r.campaign_budgets.items():
        if b < 0:
            raise ConfigError(p, f"reports.campaign_budgets.{c}", "must be >= 0")


def _validate_email(cfg: Config) -> None:
    p, e = cfg.path, cfg.email
    for key in ("port", "relay_port"):
        if not 0 <= getattr(e, key) < 65536:
            raise ConfigError(p, f"email.{key}", f"port {getattr(e, key)} out of range")
    if e.size_limit_bytes < 1024:
        raise ConfigError(p, "email.size_limit_bytes", "must be at least 1024")
    if e.deadline_hours <= 0 or e.imap_poll_seconds <= 0 or e.loop_window_seconds <= 0:
        raise ConfigError(
            p, "email.deadline_hours", "deadline_hours, imap_poll_seconds, loop_window_seconds must be > 0"
        )
    if e.unknown_senders not in ("task", "quarantine"):
        raise ConfigError(
            p, "email.unknown_senders", f"must be 'task' or 'quarantine', not {e.unknown_senders!r}"
        )
    if e.loop_max_repeats < 1 or e.send_attempts < 1:
        raise ConfigError(p, "email.loop_max_repeats", "loop_max_repeats and send_attempts must be >= 1")
    if "@" not in e.from_address:
        raise ConfigError(p, "email.from_address", f"not an e-mail address: {e.from_address!r}")
    if e.imap_url and (not e.imap_url.startswith("imap://") or "@" not in e.imap_url):
        raise ConfigError(p, "email.imap_url", "must be imap://user:password@host:port/MAILBOX")
    if e.fulfilment_attempts < 1 or e.fulfilment_retry_seconds <= 0:
        raise ConfigError(
            p, "email.fulfilment_attempts", "fulfilment_attempts must be >= 1, fulfilment_retry_seconds > 0"
        )


def _validate_callbacks(cfg: Config) -> None:
    p, c = cfg.path, cfg.routing.callbacks
    if c.attempts < 1:
        raise ConfigError(p, "routing.callbacks.attempts", "must be at least 1")
    for name in ("spacing", "max_days_ahead"):
        if getattr(c, name) < 0:
            raise ConfigError(p, f"routing.callbacks.{name}", "must be >= 0")
    for name in ("ring_timeout", "poll_interval"):
        if getattr(c, name) <= 0:
            raise ConfigError(p, f"routing.callbacks.{name}", "must be > 0 seconds")
    if "{number}" not in c.channel and "{e164}" not in c.channel:
        raise ConfigError(p, "routing.callbacks.channel", "must contain {number} or {e164}")
    if "/" not in c.channel:
        raise ConfigError(
            p, "routing.callbacks.channel", "must be a dial string such as PJSIP/{number}@trunk"
        )
    if not 0 <= cfg.api.port < 65536:
        raise ConfigError(p, "api.port", f"port {cfg.api.port} out of range")
    if cfg.api.max_body_bytes < 256:
        raise ConfigError(p, "api.max_body_bytes", "must be at least 256")


def _validate_routing(cfg: Config) -> None:
    p, r = cfg.path, cfg.routing
    policies = r.policies(p)
    for table, mapping in (("dids", r.dids), ("choices", r.choices)):
        for k, q in mapping.items():
            if q not in policies:
                raise ConfigError(p, f"routing.{table}.{k}", f"{q!r} is not a queue of [routing.queues]")
    if r.default_queue and r.default_queue not in policies:
        raise ConfigError(
            p, "routing.default_queue", f"{r.default_queue!r} is not a queue of [routing.queues]"
        )
    if r.enabled and not policies:
        raise ConfigError(p, "routing.queues", "routing is enabled but no queue is configured")
    if r.lease_ttl <= 0:
        raise ConfigError(p, "routing.lease_ttl", "must be > 0 seconds")
    if r.lookup_timeout <= 0:
        raise ConfigError(p, "routing.lookup_timeout", "must be > 0 seconds")
    if r.default_handle_seconds <= 0:
        raise ConfigError(p, "routing.default_handle_seconds", "must be > 0 seconds")
    r.ruleset(cfg.store.default_country, p)
    a = cfg.agi
    if not 0 <= a.port < 65536:
        raise ConfigError(p, "agi.port", f"port {a.port} out of range")
    if a.deadline <= 0 or a.header_timeout <= 0:
        raise ConfigError(
            p, "agi.deadline" if a.deadline <= 0 else "agi.header_timeout", "must be > 0 seconds"
        )


DIAL_MODES = ("preview", "progressive", "predictive", "agentless")


def _validate_dialer(cfg: Config) -> None:
    p, d = cfg.path, cfg.dialer
    for key in ("connect_seconds", "poll_interval", "preview_seconds", "reload_seconds"):
        if getattr(d, key) <= 0:
            raise ConfigError(p, f"dialer.{key}", "must be > 0 seconds")
    if d.hopper_ahead_minutes <= 0:
        raise ConfigError(p, "dialer.hopper_ahead_minutes", "must be > 0 minutes")
    if d.hopper_alarm_minutes < 0:
        raise ConfigError(p, "dialer.hopper_alarm_minutes", "must be >= 0 minutes (0: no alarm)")
    if not 0 <= d.blend_service_level_below <= 1:
        raise ConfigError(p, "dialer.blend_service_level_below", "must be between 0 and 1")
    queues = cfg.routing.policies(p)
    seen: set[str] = set()
    for i, c in enumerate(d.campaign):
        key = f"dialer.campaign[{i}]"
        if not c.name or c.name in seen:
            raise ConfigError(p, f"{key}.name", "required and unique" if c.name else "required")
        seen.add(c.name)
        if c.mode not in DIAL_MODES:
            raise ConfigError(p, f"{key}.mode", f"must be one of {', '.join(DIAL_MODES)}, not {c.mode!r}")
        if c.mode != "agentless" and c.queue not in queues:
            raise ConfigError(p, f"{key}.queue", f"{c.queue!r} is not a queue of [routing.queues]")
        if ("{number}" not in c.channel and "{e164}" not in c.channel) or "/" not in c.channel:
            raise ConfigError(
                p, f"{key}.channel", "must be a dial string with {number}: PJSIP/{number}@trunk"
            )
        if c.max_lines < 1:
            raise ConfigError(p, f"{key}.max_lines", "must be at least 1")
        if c.ring_timeout < 15:
            raise ConfigError(p, f"{key}.ring_timeout", "must be at least 15 seconds (FTC)")
        if c.amd_machine not in ("hangup", "message"):
            raise ConfigError(p, f"{key}.amd_machine", "must be 'hangup' or 'message'")
        if not 0 < c.answer_rate < 1:
            raise ConfigError(p, f"{key}.answer_rate", "must be between 0 and 1 (exclusive)")
        if c.talk_seconds <= 0:
            raise ConfigError(p, f"{key}.talk_seconds", "must be > 0 seconds")
        _validate_recycling(p, key, c)


def _validate_recycling(p: str, key: str, c: CampaignConfig) -> None:
    from cti.dialer.recycling import RuleError, check_dispositions, check_rule

    for outcome, rule in c.recycling.items():
        try:
            check_rule(outcome, {"delay": rule.delay, "max": rule.max})
        except RuleError as e:
            raise ConfigError(p, f"{key}.recycling.{outcome}", e.reason) from None
    try:
        check_dispositions([dataclasses.asdict(d) for d in c.disposition])
    except RuleError as e:
        raise ConfigError(p, f"{key}.disposition{e.key}", e.reason) from None
