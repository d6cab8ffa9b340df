"""Call journeys to table rows and back (pure). One interaction row per journey, one leg row per QueueLeg.

A journey read back from the store equals the one written (``to_json()`` for ``to_json()``), so reports
computed from stored records agree with the live ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg

# interaction columns a journey owns; the rest (disposition, notes, recording_ref) belong to people
JOURNEY_COLUMNS = (
    "customer_id",
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


def remote_number(journey: CallJourney) -> str:
    """The customer's side of the call: who called in, or who was called out."""
    return journey.did if journey.direction is Direction.OUTBOUND else journey.caller_number


def interaction_row(journey: CallJourney, remote_e164: str | None, customer_id: int | None) -> dict[str, Any]:
    legs = journey.queue_legs
    answered = [leg.answered_at for leg in legs if leg.answered_at is not None]
    agent = journey.agents[-1] if journey.agents else next((x.agent for x in reversed(legs) if x.agent), None)
    return {
        "linkedid": journey.linkedid,
        "customer_id": customer_id,
        "remote_e164": remote_e164,
        "direction": journey.direction.value,
        "caller_number": journey.caller_number,
        "caller_name": journey.caller_name,
        "did": journey.did,
        "queue": legs[-1].queue if legs else None,
        "agent": agent,
        "agents": list(journey.agents),
        "started_at": journey.started_at,
        "answered_at": min(answered) if answered else None,
        "ended_at": journey.ended_at,
        "outcome": journey.outcome.value if journey.outcome else None,
        "hangup_cause": journey.hangup_cause,
        "transfers": journey.transfers,
        "hold_seconds": journey.hold_seconds,
        "server": journey.server,
        "campaign": journey.campaign,
        "lead_id": journey.lead_id,
    }


def leg_rows(journey: CallJourney) -> list[dict[str, Any]]:
    return [
        {
            "linkedid": journey.linkedid,
            "seq": seq,
            "queue": leg.queue,
            "uniqueid": leg.uniqueid,
            "entered_at": leg.entered_at,
            "position": leg.position,
            "left_at": leg.left_at,
            "outcome": leg.outcome.value if leg.outcome else None,
            "agent": leg.agent,
            "ring_no_answer": list(leg.ring_no_answer),
            "wait_seconds": leg.wait_seconds,
            "talk_seconds": leg.talk_seconds,
            "answered_at": leg.answered_at,
            "ended_at": leg.ended_at,
        }
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
        campaign=row["campaign"],
        lead_id=row["lead_id"],
    )
