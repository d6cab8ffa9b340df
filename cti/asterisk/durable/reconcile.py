"""The reconciler: AMI is the live feed, Asterisk's durable logs are the record (pure: no I/O, no clock).

:class:`DurableLog` accumulates what Asterisk logged (queue_log, CDR, CEL records from
``cti.asterisk.durable.formats``) into calls (by Linkedid) and queue visits (by the waiting channel's
Uniqueid and the queue). :func:`reconcile` takes one logged call and what the store holds for it and returns
the journey to write (or ``None`` when the store is right), with what it changed:

1. **A missing call is added**: a journey built from its CDR rows (start, end, caller, direction) and its
   queue_log visits.
2. **A wrong leg is corrected**: for every visit the queue_log closed (ABANDON, EXITWITHTIMEOUT, EXITEMPTY,
   EXITWITHKEY, COMPLETEAGENT, COMPLETECALLER, BLINDTRANSFER, ATTENDEDTRANSFER) the stored leg of the same
   waiting channel and queue must have the same outcome and agent, and wait and talk within
   ``TOLERANCE`` (the log has whole seconds). A leg that does not is given the log's figures; a visit the
   store lacks is added; a stored visit more than the log has for that channel and queue is dropped. Legs
   of channels and queues the log does not know (CTI-routed visits: app_queue never saw them) are kept.
3. **Nothing is duplicated**: a stored journey keyed by another Uniqueid of the same logged call (a
   merge the tracker missed in a gap) is folded into the call's journey and listed in ``remove``.
4. **The call's times**: start and end from the CDR rows when the stored ones are off by more than
   ``TOLERANCE``.

Idempotent: reconciling the result again changes nothing (``journey`` is ``None``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from cti.asterisk.durable.formats import CdrRecord, Parsed, QueueLogEntry
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg

TOLERANCE = 1.0  # seconds: queue_log and CDR hold whole seconds
ENDINGS = {
    "ABANDON": LegOutcome.ABANDONED,
    "EXITWITHTIMEOUT": LegOutcome.TIMEOUT,
    "EXITEMPTY": LegOutcome.EXIT_EMPTY,
    "EXITWITHKEY": LegOutcome.EXIT_WITH_KEY,
    "COMPLETEAGENT": LegOutcome.ANSWERED,
    "COMPLETECALLER": LegOutcome.ANSWERED,
    "BLINDTRANSFER": LegOutcome.TRANSFERRED,
    "ATTENDEDTRANSFER": LegOutcome.TRANSFERRED,
}
TALKED = (LegOutcome.ANSWERED, LegOutcome.TRANSFERRED)
NOT_CALLS = ("NONE", "MANAGER", "REALTIME")  # queue_log callids of member events


@dataclass(slots=True)
class LoggedLeg:
    """One queue visit as queue_log tells it (``outcome`` ``None`` while it is open)."""

    callid: str
    queue: str
    entered_at: float | None = None
    position: int = 0
    outcome: LegOutcome | None = None
    agent: str | None = None
    ring_no_answer: list[str] = field(default_factory=list)
    wait: float = 0.0
    talk: float = 0.0
    closed_at: float | None = None


def _num(data: tuple[str, ...], i: int) -> float:
    try:
        return float(data[i])
    except (IndexError, ValueError):
        return 0.0


def apply_queue_log(entry: QueueLogEntry, leg: LoggedLeg) -> None:
    """One line's effect on its visit (the data layouts of app_queue's ``ast_queue_log`` calls)."""
    verb, data = entry.event, entry.data
    if verb == "ENTERQUEUE":  # url|callerid|position
        leg.entered_at = entry.time
        leg.position = int(_num(data, 2))
    elif verb == "CONNECT":  # holdtime|bridged uniqueid|ringtime
        leg.agent, leg.wait = entry.agent, _num(data, 0)
    elif verb == "RINGNOANSWER":
        leg.ring_no_answer.append(entry.agent)
    elif verb in ("COMPLETEAGENT", "COMPLETECALLER"):  # holdtime|calltime|origposition
        leg.agent, leg.wait, leg.talk = entry.agent, _num(data, 0), _num(data, 1)
    elif verb == "BLINDTRANSFER":  # extension|context|holdtime|calltime|origposition
        leg.agent, leg.wait, leg.talk = entry.agent, _num(data, 2), _num(data, 3)
    elif verb == "ATTENDEDTRANSFER":  # method|method-data|holdtime|calltime|origposition
        leg.agent, leg.wait, leg.talk = entry.agent, _num(data, 2), _num(data, 3)
    elif verb in ("ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY"):  # position|origposition|waittime
        leg.wait = _num(data, 2)
        leg.position = leg.position or int(_num(data, 1))
    elif verb == "EXITWITHKEY":  # key|position|origposition|waittime
        leg.wait = _num(data, 3)
        leg.position = leg.position or int(_num(data, 2))
    else:
        return
    if verb in ENDINGS:
        leg.outcome = ENDINGS[verb]
        leg.closed_at = entry.time
        if leg.entered_at is None:  # the visit began before what was read: date it from its wait
            leg.entered_at = entry.time - leg.wait - leg.talk
        if leg.outcome not in TALKED:
            leg.agent = None


@dataclass(slots=True)
class LoggedCall:
    """One call as the CDR and CEL tell it, keyed by its (final) Linkedid."""

    linkedid: str
    rows: list[CdrRecord] = field(default_factory=list)
    uniqueids: set[str] = field(default_factory=set)
    first_seen: float | None = None
    last_seen: float | None = None
    ended: bool = False  # CEL LINKEDID_END: no channel of the call is left

    @property
    def started_at(self) -> float | None:
        return min((r.start for r in self.rows), default=self.first_seen)

    @property
    def ended_at(self) -> float | None:
        return max((r.end for r in self.rows), default=self.last_seen)

    def _seen(self, t: float) -> None:
        self.first_seen = t if self.first_seen is None else min(self.first_seen, t)
        self.last_seen = t if self.last_seen is None else max(self.last_seen, t)


class DurableLog:
    """What Asterisk logged, accumulated and indexed: calls by Linkedid, queue visits by waiting channel."""

    def __init__(self) -> None:
        self.calls: dict[str, LoggedCall] = {}
        self.linkedid_of: dict[str, str] = {}  # uniqueid -> linkedid (CDR, CEL)
        self.legs: dict[str, list[LoggedLeg]] = {}  # callid (waiting channel) -> its visits, in order
        self._open: dict[tuple[str, str], LoggedLeg] = {}
        self.latest = 0.0  # the newest time in any record read (the log's clock)
        self.rows = 0
        self.bad = 0

    def add(self, parsed: Parsed) -> list[str]:
        """Adds records; returns the Linkedids whose records changed (their calls may need a look)."""
        touched: list[str] = []
        for entry in parsed.queue_log:
            self._queue_log(entry, touched)
        for row in parsed.cdr:
            call = self._call(row.linkedid, row.uniqueid)
            if all(r.uniqueid != row.uniqueid or r.sequence != row.sequence for r in call.rows):
                call.rows.append(row)
            call._seen(row.end)
            self.latest = max(self.latest, row.end)
            touched.append(call.linkedid)
        for cel in parsed.cel:
            call = self._call(cel.linkedid, cel.uniqueid)
            call._seen(cel.eventtime)
            self.latest = max(self.latest, cel.eventtime)
            if cel.eventtype == "LINKEDID_END":
                call.ended = True
            touched.append(call.linkedid)
        self.rows += len(parsed.queue_log) + len(parsed.cdr) + len(parsed.cel)
        self.bad += len(parsed.bad)
        return list(dict.fromkeys(touched))

    def _call(self, linkedid: str, uniqueid: str) -> LoggedCall:
        call = self.calls.get(linkedid)
        if call is None:
            call = self.calls[linkedid] = LoggedCall(linkedid)
        call.uniqueids.add(uniqueid)
        self.linkedid_of[uniqueid] = linkedid
        return call

    def _queue_log(self, entry: QueueLogEntry, touched: list[str]) -> None:
        self.latest = max(self.latest, entry.time)
        if entry.callid in NOT_CALLS:
            return
        key = (entry.callid, entry.queue)
        leg = self._open.get(key)
        if leg is None:
            if entry.event not in ("ENTERQUEUE", *ENDINGS, "CONNECT", "RINGNOANSWER"):
                return
            leg = self._open[key] = LoggedLeg(entry.callid, entry.queue)
            self.legs.setdefault(entry.callid, []).append(leg)
        apply_queue_log(entry, leg)
        if leg.outcome is not None:
            del self._open[key]
        if entry.callid in self.linkedid_of:
            touched.append(self.linkedid_of[entry.callid])

    def visits(self, call: LoggedCall) -> list[LoggedLeg]:
        """The call's queue visits, in the order they began."""
        legs = [leg for uid in call.uniqueids for leg in self.legs.get(uid, ())]
        return sorted(legs, key=lambda leg: (leg.entered_at or 0.0, leg.callid, leg.queue))

    def complete(self, call: LoggedCall, *, has_cel: bool) -> bool:
        """The log says the call is over: CEL's LINKEDID_END (or, with no CEL, CDR rows are there) and no
        queue visit of it is still open."""
        if has_cel and not call.ended:
            return False
        if not call.rows:
            return False
        return all(leg.outcome is not None for leg in self.visits(call))

    def forget_before(self, t: float) -> int:
        """Drops calls that ended before ``t`` (bounded memory); returns how many."""
        old = [k for k, c in self.calls.items() if (c.ended_at or 0.0) < t and (c.ended or c.rows)]
        for k in old:
            call = self.calls.pop(k)
            for uid in call.uniqueids:
                self.linkedid_of.pop(uid, None)
                for leg in self.legs.pop(uid, ()):
                    self._open.pop((leg.callid, leg.queue), None)
        return len(old)


@dataclass(frozen=True, slots=True)
class Verdict:
    journey: CallJourney | None  # what to write (None: the store is right)
    remove: tuple[str, ...] = ()  # duplicate journeys to delete (their linkedids)
    added: bool = False  # the call was missing
    legs_added: int = 0
    legs_corrected: int = 0
    times_corrected: bool = False

    @property
    def changed(self) -> bool:
        return self.journey is not None or bool(self.remove)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= TOLERANCE


def leg_agrees(stored: QueueLeg, logged: LoggedLeg) -> bool:
    return (
        stored.outcome is logged.outcome
        and (stored.agent or None) == (logged.agent or None)
        and _close(stored.wait_seconds, logged.wait)
        and _close(stored.talk_seconds, logged.talk)
    )


def corrected_leg(stored: QueueLeg | None, logged: LoggedLeg) -> QueueLeg:
    """The visit with the log's outcome, agent and figures; the stored (sub-second) figures are kept where
    they agree with the log."""
    entered = logged.entered_at if logged.entered_at is not None else 0.0
    if stored is not None and _close(stored.entered_at, entered):
        entered = stored.entered_at
    wait = (
        stored.wait_seconds
        if stored is not None and _close(stored.wait_seconds, logged.wait)
        else logged.wait
    )
    talk = (
        stored.talk_seconds
        if stored is not None and _close(stored.talk_seconds, logged.talk)
        else logged.talk
    )
    talked = logged.outcome in TALKED
    answered_at = entered + wait if talked else None
    return QueueLeg(
        queue=QueueName(logged.queue),
        uniqueid=UniqueId(logged.callid),
        entered_at=entered,
        position=logged.position or (stored.position if stored is not None else 0),
        left_at=entered + wait,
        outcome=logged.outcome,
        agent=AgentId(logged.agent) if talked and logged.agent else None,
        ring_no_answer=[AgentId(a) for a in logged.ring_no_answer],
        wait_seconds=wait,
        talk_seconds=talk if talked else 0.0,
        answered_at=answered_at,
        ended_at=answered_at + talk if answered_at is not None else None,
        repaired=True,
    )


def _caller_name(clid: str) -> str:
    if clid.startswith('"') and '" <' in clid:
        return clid[1 : clid.rindex('" <')]
    return ""


_DISPOSITIONS = {
    "BUSY": JourneyOutcome.BUSY,
    "NO ANSWER": JourneyOutcome.NO_ANSWER,
    "CONGESTION": JourneyOutcome.CONGESTION,
    "FAILED": JourneyOutcome.FAILED,
}


def _outcome(legs: Sequence[QueueLeg], rows: Sequence[CdrRecord], direction: Direction) -> JourneyOutcome:
    if any(leg.outcome in TALKED for leg in legs):
        return JourneyOutcome.ANSWERED
    if legs:
        last = legs[-1].outcome
        if last is LegOutcome.ABANDONED:
            return JourneyOutcome.ABANDONED
        if last is LegOutcome.TIMEOUT:
            return JourneyOutcome.TIMEOUT
        return JourneyOutcome.UNANSWERED
    first = rows[0].disposition if rows else ""
    if direction is Direction.OUTBOUND and first in _DISPOSITIONS:
        return _DISPOSITIONS[first]
    answered = sum(1 for r in rows if r.disposition == "ANSWERED")
    return JourneyOutcome.ANSWERED if answered >= 2 else JourneyOutcome.UNANSWERED


def journey_from_log(
    call: LoggedCall, legs: Sequence[QueueLeg], *, server: str, inbound_contexts: Collection[str]
) -> CallJourney:
    """A call the store never got, as its CDR rows and queue visits tell it."""
    rows = sorted(call.rows, key=lambda r: (r.start, r.sequence))
    inbound_row = next((r for r in rows if r.dcontext in inbound_contexts), None)
    direction = Direction.INBOUND if legs or inbound_row is not None else Direction.OUTBOUND
    first = rows[0] if rows else None
    started = call.started_at or 0.0
    answered = [leg.answered_at for leg in legs if leg.answered_at is not None]
    agents: list[AgentId] = []
    for leg in sorted(legs, key=lambda x: x.answered_at or 0.0):
        if leg.agent and leg.outcome in TALKED and leg.agent not in agents:
            agents.append(leg.agent)
    return CallJourney(
        linkedid=LinkedId(call.linkedid),
        direction=direction,
        started_at=started,
        caller_number=first.src if first else "",
        caller_name=_caller_name(first.clid) if first else "",
        did=(inbound_row.dst if inbound_row else first.dst) if first else "",
        ended_at=call.ended_at,
        outcome=_outcome(legs, rows, direction),
        queue_legs=list(legs),
        agents=agents,
        server=server,
        answered_at=min(answered) if answered else None,
        talk_seconds=sum(leg.talk_seconds for leg in legs),
    )


def _merge_legs(stored: Iterable[QueueLeg], logged: Sequence[LoggedLeg]) -> tuple[list[QueueLeg], int, int]:
    """Stored legs with every logged visit applied: (legs, added, corrected)."""
    pool: dict[tuple[str, str], list[QueueLeg]] = {}
    out: list[QueueLeg] = []
    for leg in stored:
        pool.setdefault((leg.uniqueid, leg.queue), []).append(leg)
    added = corrected = 0
    for lg in logged:
        if lg.outcome is None:
            continue
        candidates = pool.get((lg.callid, lg.queue))
        match = candidates.pop(0) if candidates else None
        if match is None:
            added += 1
            out.append(corrected_leg(None, lg))
        elif leg_agrees(match, lg):
            out.append(match)
        else:
            corrected += 1
            out.append(corrected_leg(match, lg))
    logged_keys = {(lg.callid, lg.queue) for lg in logged if lg.outcome is not None}
    for key, legs in pool.items():
        if key in logged_keys:  # more stored visits than logged ones: the tracker split one in a gap
            corrected += len(legs)
        else:  # visits the log does not know (CTI-routed): kept
            out += legs
    out.sort(key=lambda leg: leg.entered_at)
    return out, added, corrected


def reconcile(
    log: DurableLog,
    call: LoggedCall,
    stored: Sequence[CallJourney],
    *,
    server: str,
    inbound_contexts: Collection[str],
) -> Verdict:
    """What to write so the store agrees with the log about ``call``.

    ``stored``: the journeys the store (or the writer's buffer) holds under any Uniqueid of the call
    (its Linkedid first, if there). Rules 1-4 of the module docstring.
    """
    logged = log.visits(call)
    main = next((j for j in stored if j.linkedid == call.linkedid), None)
    duplicates = [j for j in stored if j.linkedid != call.linkedid]
    if main is None and duplicates:  # the store holds the call under a younger id only: adopt the oldest
        duplicates.sort(key=lambda j: j.started_at)
        main = dataclasses.replace(duplicates.pop(0), linkedid=LinkedId(call.linkedid), queue_legs=[])
        main.queue_legs = [leg for j in stored for leg in j.queue_legs]
    remove = tuple(j.linkedid for j in duplicates if j.linkedid != call.linkedid)
    if main is None:
        legs, added, _ = _merge_legs((), logged)
        journey = journey_from_log(call, legs, server=server, inbound_contexts=inbound_contexts)
        return Verdict(journey, remove, added=True, legs_added=added)
    base_legs = [*main.queue_legs, *(leg for j in duplicates for leg in j.queue_legs)]
    legs, added, corrected = _merge_legs(base_legs, logged)
    started, ended = call.started_at, call.ended_at
    times_off = (call.rows and started is not None and not _close(main.started_at, started)) or (
        call.rows and ended is not None and not _close(main.ended_at, ended)
    )
    if not (added or corrected or times_off or remove):
        return Verdict(None)
    journey = dataclasses.replace(main, queue_legs=legs, agents=list(main.agents))
    if times_off:
        journey.started_at = started if started is not None else main.started_at
        journey.ended_at = ended
    if added or corrected:
        talked = [leg for leg in legs if leg.outcome in TALKED]
        for leg in sorted(talked, key=lambda x: x.answered_at or 0.0):
            if leg.agent and leg.agent not in journey.agents:
                journey.agents.append(leg.agent)
        answered = [leg.answered_at for leg in talked if leg.answered_at is not None]
        if answered:
            journey.outcome = JourneyOutcome.ANSWERED
            journey.answered_at = (
                min(answered) if journey.answered_at is None else min(journey.answered_at, *answered)
            )
            journey.talk_seconds = max(journey.talk_seconds, sum(leg.talk_seconds for leg in talked))
        elif journey.outcome is JourneyOutcome.ANSWERED and legs and journey.direction is Direction.INBOUND:
            journey.outcome = _outcome(legs, call.rows, journey.direction)
    return Verdict(
        journey,
        remove,
        legs_added=added,
        legs_corrected=corrected,
        times_corrected=bool(times_off),
    )
