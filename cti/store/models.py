"""The store's tables, as SQLAlchemy 2 typed models.

The Alembic migrations in ``cti/store/migrations`` are the source of truth for the schema; these models
describe the same tables for queries, and tests/store/test_migrations.py proves the two agree on SQLite
and PostgreSQL. Every change here needs a new migration.

Conventions: times are epoch seconds (``float``, UTC), the same clock as the call journeys; money is an
integer number of cents; phone numbers are stored both as given (``raw``) and in E.164 (``e164``), and
only the E.164 form is ever searched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LIFECYCLES = ("target", "prospect", "opportunity", "signed", "customer")
TICKET_KINDS = ("complaint", "ticket")
TICKET_STATUSES = ("open", "in_progress", "escalated", "resolved", "closed")
OPEN_TICKET_STATUSES = ("open", "in_progress", "escalated")
PRIORITIES = ("low", "normal", "high", "urgent")
ROLES = ("agent", "supervisor")
LEAD_STATUSES = ("new", "retry", "done", "failed", "dnc")
CALLBACK_STATUSES = ("scheduled", "queued", "dialing", "done", "failed", "cancelled")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Meta(Base):
    """Key/value facts about the database itself (e.g. which demo data set was seeded)."""

    __tablename__ = "store_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    owner: Mapped[str] = mapped_column(String(100), default="")  # account manager
    language: Mapped[str] = mapped_column(String(16), default="")  # BCP 47, e.g. zh-CN, en-US
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    lifecycle: Mapped[str] = mapped_column(String(16), default="prospect")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Double)
    # value, recomputed by TierRepository.recompute (cti/store/tiers.py has the definitions)
    tier: Mapped[str] = mapped_column(String(1), default="C")
    rfm_recency: Mapped[int] = mapped_column(Integer, default=1)
    rfm_frequency: Mapped[int] = mapped_column(Integer, default=1)
    rfm_monetary: Mapped[int] = mapped_column(Integer, default=1)
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    window_spend_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    value_at: Mapped[float | None] = mapped_column(Double)


class CustomerPhone(Base):
    __tablename__ = "customer_phones"
    __table_args__ = (UniqueConstraint("customer_id", "e164"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    raw: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(String(32), default="")  # mobile, office, home...
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class ContactPreference(Base):
    """One row per customer: how they like to be contacted, and whether they must not be called."""

    __tablename__ = "contact_preferences"
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default="phone")  # phone, email, sms, wechat
    frequency: Mapped[str] = mapped_column(String(16), default="any")  # any, weekly, monthly, never
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    dnc_source: Mapped[str] = mapped_column(String(64), default="")  # customer request, regulator...
    dnc_at: Mapped[float | None] = mapped_column(Double)
    # consent per channel: None not stated; False refused (a campaign requiring consent skips None too)
    consent_call: Mapped[bool | None] = mapped_column(Boolean)
    consent_sms: Mapped[bool | None] = mapped_column(Boolean)
    consent_email: Mapped[bool | None] = mapped_column(Boolean)


class DncEntry(Base):
    """A national or internal do-not-call list, by number (the customer may not even be known)."""

    __tablename__ = "dnc_numbers"
    e164: Mapped[str] = mapped_column(String(20), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), default="internal")
    reason: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[float] = mapped_column(Double)
    list_date: Mapped[str] = mapped_column(String(32), default="")  # the national list's own date, if any


class Interaction(Base):
    """One call, from its CallJourney, plus what the agent wrote about it.

    Keyed by the Asterisk server AND the Linkedid: Linkedids are unique only within one server (two
    servers started in the same second hand out the same ones), so ``linkedid`` alone is not unique.
    """

    __tablename__ = "interactions"
    __table_args__ = (
        # a unique index, not a table constraint: the upsert's ON CONFLICT target (migration 0003)
        Index("ix_interactions_server_linkedid", "server", "linkedid", unique=True),
        Index("ix_interactions_customer_started", "customer_id", "started_at"),
        # by number only for calls filed under no customer (unknown callers): linked calls are found by
        # customer_id, and a random-key index on every row would cost a page write per call record
        Index(
            "ix_interactions_unlinked_remote",
            "remote_e164",
            "started_at",
            sqlite_where=text("customer_id IS NULL"),
            postgresql_where=text("customer_id IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(150))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    remote_e164: Mapped[str | None] = mapped_column(String(20))  # the customer's side of the call
    direction: Mapped[str] = mapped_column(String(10))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    did: Mapped[str] = mapped_column(String(64), default="")
    queue: Mapped[str | None] = mapped_column(String(64))  # the last queue it waited in
    agent: Mapped[str | None] = mapped_column(String(100))  # the last agent who talked
    agents: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[float] = mapped_column(Double, index=True)
    answered_at: Mapped[float | None] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)
    outcome: Mapped[str | None] = mapped_column(String(16))
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    hold_seconds: Mapped[float] = mapped_column(Double, default=0.0)
    server: Mapped[str] = mapped_column(String(64), default="")
    campaign: Mapped[str | None] = mapped_column(String(64))
    lead_id: Mapped[str | None] = mapped_column(String(64))
    disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    recording_ref: Mapped[str | None] = mapped_column(String(255))


class InteractionQueueLeg(Base):
    """One row per QueueLeg of a journey, in order, so reports can recompute every metric.

    A leg belongs to its call by (server, linkedid) and is found by its waiting channel: (server,
    uniqueid) is indexed, and with ``entered_at`` it names one visit (a channel may visit queues again).
    """

    __tablename__ = "queue_legs"
    __table_args__ = (
        UniqueConstraint("server", "linkedid", "seq"),
        ForeignKeyConstraint(
            ["server", "linkedid"], ["interactions.server", "interactions.linkedid"], ondelete="CASCADE"
        ),
        Index("ix_queue_legs_server_uniqueid", "server", "uniqueid"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    server: Mapped[str] = mapped_column(String(64), default="")
    linkedid: Mapped[str] = mapped_column(String(150))
    seq: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(64))
    uniqueid: Mapped[str] = mapped_column(String(150))
    entered_at: Mapped[float] = mapped_column(Double, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    left_at: Mapped[float | None] = mapped_column(Double)
    outcome: Mapped[str | None] = mapped_column(String(16))
    agent: Mapped[str | None] = mapped_column(String(100))
    ring_no_answer: Mapped[list[str]] = mapped_column(JSON, default=list)
    wait_seconds: Mapped[float] = mapped_column(Double, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Double, default=0.0)
    answered_at: Mapped[float | None] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)
    # the leg spanned an AMI gap: the tracker rebuilt it at a resync (its figures stop where the live
    # feed was last seen, never stretched to the resync time); the repair from Asterisk's logs corrects it
    repaired: Mapped[bool] = mapped_column(Boolean, default=False)


class Disposition(Base):
    """What an agent recorded about a call (server, Linkedid); kept even when the call record is not
    written yet."""

    __tablename__ = "dispositions"
    server: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    linkedid: Mapped[str] = mapped_column(String(150), primary_key=True)
    agent: Mapped[str] = mapped_column(String(100), primary_key=True)
    disposition: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text, default="")
    saved_at: Mapped[float] = mapped_column(Double)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    placed_at: Mapped[float] = mapped_column(Double, index=True)
    description: Mapped[str] = mapped_column(String(200), default="")


class Ticket(Base):
    """A complaint or a service ticket (``kind``)."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_customer_status", "customer_id", "status"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    category: Mapped[str] = mapped_column(String(64), default="")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    owner: Mapped[str] = mapped_column(String(100), default="")
    due_at: Mapped[float | None] = mapped_column(Double)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[float] = mapped_column(Double)
    closed_at: Mapped[float | None] = mapped_column(Double)
    linkedid: Mapped[str | None] = mapped_column(String(150))  # the call it came from, if any


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    # AgentId: the queue member name Asterisk logs; None for a supervisor who takes no calls
    member_name: Mapped[str | None] = mapped_column(String(100), unique=True)
    interface: Mapped[str] = mapped_column(String(100), default="")  # e.g. Local/1001@agents/n
    extension: Mapped[str] = mapped_column(String(32), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Skill(Base):
    __tablename__ = "skills"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class AgentSkill(Base):
    """What an agent can handle, and how well: one row per agent and skill (cti/store/skills.py)."""

    __tablename__ = "agent_skills"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 10", name="level"),)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, default=1)  # 1 (basic) .. 10 (expert)


class AgentLanguage(Base):
    """A language an agent speaks (BCP 47, as customers' ``language``): one row per agent and language."""

    __tablename__ = "agent_languages"
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)


class Queue(Base):
    __tablename__ = "queues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # as Asterisk names it
    display_name: Mapped[str] = mapped_column(String(200), default="")
    skill: Mapped[str | None] = mapped_column(String(64))  # skill an agent needs for this queue
    service_level_seconds: Mapped[float] = mapped_column(Double, default=20.0)


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    queue: Mapped[str] = mapped_column(String(64), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    retry_seconds: Mapped[float] = mapped_column(Double, default=3600.0)
    call_from_hour: Mapped[int] = mapped_column(Integer, default=8)  # the lead's local time
    call_to_hour: Mapped[int] = mapped_column(Integer, default=21)
    # the campaign's settings (0009, cti.dialer.settings; docs/design/dialer.md "Campaign settings")
    mode: Mapped[str] = mapped_column(String(12), default="progressive")
    channel: Mapped[str] = mapped_column(String(200), default="PJSIP/{number}@trunk")
    caller_id: Mapped[str] = mapped_column(String(80), default="")
    max_lines: Mapped[int] = mapped_column(Integer, default=10)  # trunk capacity
    ring_timeout: Mapped[float] = mapped_column(Double, default=25.0)
    amd_machine: Mapped[str] = mapped_column(String(8), default="hangup")
    script: Mapped[str] = mapped_column(Text, default="")
    blended: Mapped[str] = mapped_column(Text, default="")  # agents' names, one a line
    abandon_regime: Mapped[str] = mapped_column(String(8), default="ftc")
    abandon_target: Mapped[float | None] = mapped_column(Double)  # None: the regime's limit
    budget: Mapped[float | None] = mapped_column(Double)
    currency: Mapped[str] = mapped_column(String(3), default="")
    state: Mapped[str] = mapped_column(String(8), default="draft")  # draft, running, paused, ended
    updated_at: Mapped[float | None] = mapped_column(Double)
    recycling: Mapped[str | None] = mapped_column(Text)  # JSON outcome -> {delay, max} (cti/dialer/recycling)
    require_call_consent: Mapped[bool] = mapped_column(Boolean, default=False)


class LeadList(Base):
    __tablename__ = "lead_lists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("list_id", "e164"),
        Index("ix_leads_list_status_next", "list_id", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lead_lists.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200), default="")
    raw: Mapped[str] = mapped_column(String(64), default="")
    e164: Mapped[str] = mapped_column(String(20), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="")  # IANA, e.g. Asia/Shanghai
    status: Mapped[str] = mapped_column(String(8), default="new")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float | None] = mapped_column(Double)
    last_attempt_at: Mapped[float | None] = mapped_column(Double)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_abandon_at: Mapped[float | None] = mapped_column(Double)  # the 72 h no-redial (Ofcom)
    disposition: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(100))  # who took it (callbacks go to the same agent)
    call_consent: Mapped[bool | None] = mapped_column(Boolean)  # None: not stated


class CampaignDisposition(Base):
    """The dispositions an agent may give a lead of a campaign, and what each means."""

    __tablename__ = "campaign_dispositions"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    final: Mapped[bool] = mapped_column(Boolean, default=True)
    sale: Mapped[bool] = mapped_column(Boolean, default=False)
    callback: Mapped[bool] = mapped_column(Boolean, default=False)


class Callback(Base):
    """A promise to call a customer back (cti/routing/callbacks.py): from a key pressed while waiting,
    the HTTP API, or an agent's disposition. ``entered`` is its place in the queue (the time the caller
    began waiting, or the time it became due); ``attempts_log`` keeps every attempt and its outcome."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_status_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    origin: Mapped[str | None] = mapped_column(String(160), unique=True)  # server/uniqueid of a key press
    e164: Mapped[str] = mapped_column(String(20), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    queue: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(8))  # key, web, agent
    agent: Mapped[str | None] = mapped_column(String(100), index=True)  # for this agent only; None: anyone
    created_by: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Double)
    due_at: Mapped[float] = mapped_column(Double)
    entered: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    owner: Mapped[str | None] = mapped_column(String(64))  # the instance routing it (queued, dialing)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_log: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    outcome: Mapped[str | None] = mapped_column(String(16))
    linkedid: Mapped[str | None] = mapped_column(String(150))  # the call that reached the customer
    finished_at: Mapped[float | None] = mapped_column(Double)


EMAIL_TASK_STATES = ("waiting", "offered", "answered", "closed")


class EmailTask(Base):
    """An inbound customer e-mail as a task with a deadline (issue #13, cti/mail): waiting, offered to an
    agent, answered (a reply was sent) or closed (a disposition without a reply). The original and the
    reply are kept here; they are the e-mail entries of the customer's contact history."""

    __tablename__ = "email_tasks"
    __table_args__ = (Index("ix_email_tasks_state_received", "state", "received"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), default="")
    sender: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    received: Mapped[float] = mapped_column(Double)
    deadline: Mapped[float] = mapped_column(Double)
    state: Mapped[str] = mapped_column(String(10), default="waiting")
    agent: Mapped[str | None] = mapped_column(String(100))
    offered_at: Mapped[float | None] = mapped_column(Double)
    answered_at: Mapped[float | None] = mapped_column(Double)
    handled_at: Mapped[float | None] = mapped_column(Double)
    disposition: Mapped[str] = mapped_column(String(64), default="")
    reply: Mapped[str | None] = mapped_column(Text)


class EmailQuarantine(Base):
    """A message refused or set aside by the inbound rules (cti/mail/inbound.py), raw bytes and reason."""

    __tablename__ = "email_quarantine"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    sender: Mapped[str] = mapped_column(String(254), default="")
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received: Mapped[float] = mapped_column(Double)


FULFILMENT_STATES = ("pending", "sent", "failed")


class Document(Base):
    """One entry of the fulfilment catalogue (issue #13): a document an agent may have e-mailed to a
    customer, its bytes stored here (``content``) or read from ``path`` when it is sent."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    filename: Mapped[str] = mapped_column(String(200))  # the attachment's file name
    mime_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    path: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[float] = mapped_column(Double)


class Fulfilment(Base):
    """Documents to e-mail to a customer, picked at a call's disposition: pending (with its next try),
    sent, or failed (given up after the last attempt, ``last_error`` says why)."""

    __tablename__ = "fulfilments"
    __table_args__ = (Index("ix_fulfilments_status_next", "status", "next_attempt"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str] = mapped_column(String(254))
    linkedid: Mapped[str] = mapped_column(String(150), default="")  # the call whose disposition it was
    agent: Mapped[str] = mapped_column(String(100), default="")
    documents: Mapped[list[int]] = mapped_column(JSON, default=list)  # document ids
    names: Mapped[str] = mapped_column(Text, default="")  # their names when requested, for the history
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[float | None] = mapped_column(Double)
    last_error: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[float] = mapped_column(Double)
    sent_at: Mapped[float | None] = mapped_column(Double)
    message_id: Mapped[str] = mapped_column(String(998), default="")


def table_names() -> list[str]:
    return sorted(Base.metadata.tables)


def columns(model: type[Base]) -> list[str]:
    return [c.name for c in model.__table__.columns]


def row(model: type[Base], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` restricted to ``model``'s columns (for bulk inserts from wider dicts)."""
    names = set(columns(model))
    return {k: v for k, v in values.items() if k in names}


class DialAttempt(Base):
    """Every dial a campaign makes, kept for the compliance records (cti/dialer/compliance.py):
    ``live_answer`` a person answered; ``abandoned`` that person reached no agent within 2 s;
    ``amd_result`` HUMAN, MACHINE, NOTSURE or ''; ``outcome`` busy, no_answer, machine, answered, ..."""

    __tablename__ = "dial_attempts"
    __table_args__ = (Index("ix_dial_attempts_campaign_started", "campaign_id", "started_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    started_at: Mapped[float] = mapped_column(Double)
    answered_at: Mapped[float | None] = mapped_column(Double)
    amd_result: Mapped[str] = mapped_column(String(16), default="")
    agent: Mapped[str] = mapped_column(String(64), default="")
    connected_after: Mapped[float | None] = mapped_column(Double)  # seconds from answer to agent
    live_answer: Mapped[bool] = mapped_column(Boolean, default=False)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False)
    message_played: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(16), default="")


class AgentStateInterval(Base):
    """One interval of an agent's state history (cti/reports/states.py): the state from ``started_at`` to
    ``ended_at`` (None while it is the agent's current state), the pause reason, the agent's queues."""

    __tablename__ = "agent_state_intervals"
    __table_args__ = (
        Index("ix_agent_state_intervals_agent_started", "agent", "started_at"),
        Index("ix_agent_state_intervals_started", "started_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    server: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(100), default="")
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[float] = mapped_column(Double)
    ended_at: Mapped[float | None] = mapped_column(Double)


class _QueueTotals:
    """The columns of a queue's rollup rows: :class:`QueueInterval` and its coarser tiers (hours and days,
    migration 0010).

    ``threshold_us`` / ``short_abandon_us`` are -1 in a row summing intervals counted at different
    thresholds (such a row is never read: its period comes from the finer tier, cti/store/rollups_repo.py).
    """

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch s, a multiple of 900/3600/86400
    queue: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold_us: Mapped[int] = mapped_column(BigInteger)
    short_abandon_us: Mapped[int] = mapped_column(BigInteger)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    timed_out: Mapped[int] = mapped_column(Integer, default=0)
    exited_empty: Mapped[int] = mapped_column(Integer, default=0)
    exited_with_key: Mapped[int] = mapped_column(Integer, default=0)
    transferred: Mapped[int] = mapped_column(Integer, default=0)
    answered_within: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_within: Mapped[int] = mapped_column(Integer, default=0)
    wait_us: Mapped[int] = mapped_column(BigInteger, default=0)
    wait_answered_us: Mapped[int] = mapped_column(BigInteger, default=0)
    wait_abandoned_us: Mapped[int] = mapped_column(BigInteger, default=0)
    max_wait_us: Mapped[int] = mapped_column(BigInteger, default=0)
    talk_us: Mapped[int] = mapped_column(BigInteger, default=0)
    ring_no_answer: Mapped[int] = mapped_column(Integer, default=0)
    short_abandoned: Mapped[int] = mapped_column(Integer, default=0)
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    unanswered_within: Mapped[int] = mapped_column(Integer, default=0)


class _AgentTotals:
    """The columns of an agent's rollup rows: :class:`AgentInterval` and its coarser tiers (0010)."""

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agent: Mapped[str] = mapped_column(String(100), primary_key=True)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    talk_us: Mapped[int] = mapped_column(BigInteger, default=0)
    wait_us: Mapped[int] = mapped_column(BigInteger, default=0)
    max_wait_us: Mapped[int] = mapped_column(BigInteger, default=0)
    ring_no_answer: Mapped[int] = mapped_column(Integer, default=0)


class QueueInterval(_QueueTotals, Base):
    """Additive totals of one queue's finished visits that *entered* the queue in one 15-minute interval.

    Maintained in the transaction that writes the call records (cti/store/rollups_repo.py); the columns
    are the sums of ``cti.reports.metrics.QueueRollup``, so any queue figure over a range of intervals is
    the same as the figure computed from the raw legs. ``threshold_us`` is the service-level threshold
    the ``*_within`` counts were taken at, ``short_abandon_us`` the short-abandon one (a changed threshold
    needs ``cti store rollups-rebuild``; until then those intervals are read from the raw legs).
    """

    __tablename__ = "rollup_queue_intervals"
    __table_args__ = ({"sqlite_with_rowid": False},)  # clustered by the key: a range is one scan


class AgentInterval(_AgentTotals, Base):
    """One agent's additive totals over the queue visits that entered their queue in one 15-minute
    interval (the sums of ``cti.reports.metrics.AgentRollup``)."""

    __tablename__ = "rollup_agent_intervals"
    __table_args__ = ({"sqlite_with_rowid": False},)


class QueueHour(_QueueTotals, Base):
    """A queue's totals over one UTC hour: the sum of its four 15-minute rows, kept with them."""

    __tablename__ = "rollup_queue_hours"
    __table_args__ = ({"sqlite_with_rowid": False},)


class QueueDay(_QueueTotals, Base):
    """A queue's totals over one UTC day: the sum of its 24 hour rows, kept with them."""

    __tablename__ = "rollup_queue_days"
    __table_args__ = ({"sqlite_with_rowid": False},)


class AgentHour(_AgentTotals, Base):
    __tablename__ = "rollup_agent_hours"
    __table_args__ = ({"sqlite_with_rowid": False},)


class AgentDay(_AgentTotals, Base):
    __tablename__ = "rollup_agent_days"
    __table_args__ = ({"sqlite_with_rowid": False},)


class DispositionCode(Base):
    """One inbound disposition code (issue #12, cti.core.dispositions): what the agent's card offers and
    what the reports count as a resolution or a sale."""

    __tablename__ = "disposition_codes"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(10), default="none")  # resolution, sale, none
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every queue
    callback: Mapped[bool] = mapped_column(Boolean, default=False)  # a callback time is required
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[float] = mapped_column(Double)
