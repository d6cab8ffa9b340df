"""Call journeys to table rows and back (pure). One interaction row per journey, one leg row per QueueLeg.

A journey read back from the store equals the one written (``to_json()`` for ``to_json()``), so reports
computed from stored records agree with the live ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg

# What a journey writes into its interaction row, in :func:`interaction_params` order. The customer it is
# filed under (``customer_id``) is found by the store from ``remote_e164``; the other columns
# (disposition, notes, recording_ref) belong to people.
INTERACTION_PARAM_COLUMNS = (
    "linkedid",
    "remote_e164",
    "direction",
    "caller_number",
    "caller_name",
    "did",
    "queue",
    "agent",
    "agents",
    "started_at",
    "answered_at",
    "ended_at",
    "outcome",
    "hangup_cause",
    "transfers",
    "hold_seconds",
    "server",
    "campaign",
    "lead_id",
)
JOURNEY_COLUMNS = ("customer_id", *INTERACTION_PARAM_COLUMNS[1:])  # the columns a rewrite replaces
LEG_PARAM_COLUMNS = (
    "server",
    "linkedid",
    "seq",
    "queue",
    "uniqueid",
    "entered_at",
    "position",
    "left_at",
    "outcome",
    "agent",
    "ring_no_answer",
    "wait_seconds",
    "talk_seconds",
    "answered_at",
    "ended_at",
    "repaired",
)
CallKey = tuple[str, str]  # (server, linkedid): what identifies a call across Asterisk servers
_json_text = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps without its per-call set-up


def json_list(items: Sequence[str]) -> str:
    return _json_text(items) if items else "[]"


def call_key(journey: CallJourney) -> CallKey:
    return (journey.server, journey.linkedid)


def remote_number(journey: CallJourney) -> str:
    """The customer's side of the call: who called in, or who was called out."""
    return journey.did if journey.direction is Direction.OUTBOUND else journey.caller_number


def interaction_params(journey: CallJourney, remote_e164: str | None) -> tuple[Any, ...]:
    """The interaction row of ``journey``, in ``INTERACTION_PARAM_COLUMNS`` order (lists as JSON text).

    Tuples, not dicts: the bulk writer hands them to the driver as they are (a dict per row, read back in
    column order, cost more than SQLite's own work per row).
    """
    legs = journey.queue_legs
    answered = [leg.answered_at for leg in legs if leg.answered_at is not None]
    agents = journey.agents
    agent = agents[-1] if agents else next((x.agent for x in reversed(legs) if x.agent), None)
    outcome = journey.outcome
    return (
        journey.linkedid,
        remote_e164,
        journey.direction.value,
        journey.caller_number,
        journey.caller_name,
        journey.did,
        legs[-1].queue if legs else None,
        agent,
        json_list(agents),
        journey.started_at,
        # the journey's own first answer (a click-to-call has no queue leg), else its legs' first
        journey.answered_at if journey.answered_at is not None else (min(answered) if answered else None),
        journey.ended_at,
        outcome.value if outcome else None,
        journey.hangup_cause,
        journey.transfers,
        journey.hold_seconds,
        journey.server,
        journey.campaign,
        journey.lead_id,
    )


def leg_params(journey: CallJourney) -> list[tuple[Any, ...]]:
    """One row per queue leg of ``journey``, in order, in ``LEG_PARAM_COLUMNS`` order."""
    server, linkedid = journey.server, journey.linkedid
    return [
        (
            server,
            linkedid,
            seq,
            leg.queue,
            leg.uniqueid,
            leg.entered_at,
            leg.position,
            leg.left_at,
            leg.outcome.value if leg.outcome else None,
            leg.agent,
            json_list(leg.ring_no_answer),
            leg.wait_seconds,
            leg.talk_seconds,
            leg.answered_at,
            leg.ended_at,
            leg.repaired,
        )
        for seq, leg in enumerate(journey.queue_legs)
    ]


def leg_from_row(row: Mapping[Any, Any]) -> QueueLeg:
    return QueueLeg(
        queue=QueueName(row["queue"]),
        uniqueid=UniqueId(row["uniqueid"]),
        entered_at=float(row["entered_at"]),
        position=int(row["position"]),
        left_at=row["left_at"],
        outcome=LegOutcome(row["outcome"]) if row["outcome"] else None,
        agent=AgentId(row["agent"]) if row["agent"] is not None else None,
        ring_no_answer=[AgentId(a) for a in row["ring_no_answer"] or []],
        wait_seconds=float(row["wait_seconds"]),
        talk_seconds=float(row["talk_seconds"]),
        answered_at=row["answered_at"],
        ended_at=row["ended_at"],
        repaired=bool(row["repaired"]),
    )


def journey_from_row(row: Mapping[Any, Any], legs: list[QueueLeg]) -> CallJourney:
    return CallJourney(
        linkedid=LinkedId(row["linkedid"]),
        direction=Direction(row["direction"]),
        started_at=float(row["started_at"]),
        caller_number=row["caller_number"],
        caller_name=row["caller_name"],
        did=row["did"],
        ended_at=row["ended_at"],
        outcome=JourneyOutcome(row["outcome"]) if row["outcome"] else None,
        queue_legs=legs,
        agents=[AgentId(a) for a in row["agents"] or []],
        hangup_cause=row["hangup_cause"],
        transfers=int(row["transfers"]),
        hold_seconds=float(row["hold_seconds"]),
        server=row["server"],
        answered_at=row["answered_at"],
        campaign=row["campaign"],
        lead_id=row["lead_id"],
    )
