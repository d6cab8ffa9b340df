"""app_queue: joining, the dispatch loop (ring attempts, retry, autofill), connect, abandon, timeouts
and the member actions (QueueAdd, QueueRemove, QueuePause, QueuePenalty)."""

from __future__ import annotations

import math

from cti.sim.legs import RECHECK, ActionError, AgentLeg, Leg
from cti.sim.pbx_core import PbxCore
from cti.sim.queues import Member, Queue, QueueEntry, members_to_ring


class AppQueue(PbxCore):
    # ------------------------------------------------------------------ queues
    def _available(self, m: Member) -> bool:
        phone = self.phones.get(m.extension)
        if phone is None or m.paused or self.now < m.wrapup_until:
            return False
        return not phone.in_use()

    def _empty(self, q: Queue, conditions: frozenset[str]) -> bool:
        """True when no member could take a call under the joinempty/leavewhenempty conditions."""
        if not conditions:
            return False
        for m in q.members.values():
            phone = self.phones.get(m.extension)
            if phone is None:
                if "invalid" in conditions or "unavailable" in conditions:
                    continue
                return False
            if m.paused and "paused" in conditions:
                continue
            if phone.in_call() and "inuse" in conditions:
                continue
            if phone.in_use() and not phone.in_call() and "ringing" in conditions:
                continue
            if self.now < m.wrapup_until and "wrapup" in conditions:
                continue
            return False
        return True

    def queue_join(self, leg: Leg, q: Queue, maxwait: float) -> None:
        ch = leg.ch
        ch.app, ch.appdata = "Queue", f"{q.name},t,,,{int(maxwait)}"
        if self._empty(q, q.spec.joinempty):
            self.set_var(ch, "QUEUESTATUS", "JOINEMPTY")
            self._after_queue(leg, "JOINEMPTY")
            return
        entry = QueueEntry(q, leg, self.now, len(q.entries) + 1, maxwait)
        q.entries.append(entry)
        leg.entry = entry
        self.event(
            "QueueCallerJoin",
            "agent",
            [
                *ch.snapshot(),
                ("Queue", q.name),
                ("Position", str(entry.position)),
                ("Count", str(len(q.entries))),
            ],
        )
        self.queue_log.write(
            self.now, ch.uniqueid, q.name, "NONE", "ENTERQUEUE", "", ch.cid_num or "", entry.position
        )
        entry.timers.append(self.later(maxwait, self._queue_timeout, entry))
        self.schedule_dispatch()

    def schedule_dispatch(self) -> None:
        if self._dispatch_timer is None:
            self._dispatch_timer = self.later(0.0, self._dispatch)

    def _dispatch(self) -> None:
        """Let waiting callers ring, as app_queue's queue_exec loop does.

        The caller at the head (every caller, with autofill) either rings (an attempt) or waits
        ``retry`` seconds between tries: a member who frees up is noticed at the next try, not at
        once. A caller behind the head checks its turn every second (RECHECK) from when it joined.
        """
        self._dispatch_timer = None
        for q in self.queues.values():
            for idx, entry in enumerate(list(q.entries)):
                if entry.done or entry.in_attempt:
                    continue
                if idx > 0 and not q.spec.autofill:
                    break  # autofill = no: only the caller at the head of the queue rings
                if not entry.head:
                    entry.head = True
                    if self.now > entry.joined:  # it waited its turn: noticed on its 1 s grid
                        k = math.ceil(round((self.now - entry.joined) / RECHECK, 6))
                        entry.next_poll = entry.joined + k * RECHECK
                if self._empty(q, q.spec.leavewhenempty):
                    self._queue_exit(entry, "LEAVEEMPTY", "EXITEMPTY")
                    continue
                if entry.next_poll > self.now:
                    self._poll_at(entry)
                    continue
                if any(self._available(m) for m in q.members.values()):
                    self._start_attempt(entry)
                else:
                    entry.next_poll = self.now + q.spec.retry
                    self._poll_at(entry)

    def _poll_at(self, entry: QueueEntry) -> None:
        if (
            entry.poll_timer is None
            or entry.poll_timer.when != round(entry.next_poll, 6)
            or entry.poll_timer.cancelled
        ):
            if entry.poll_timer is not None:
                entry.poll_timer.cancel()
            entry.poll_timer = self.timeline.call_at(entry.next_poll, self.schedule_dispatch)

    def _start_attempt(self, entry: QueueEntry) -> None:
        entry.in_attempt = True
        entry.attempt_start = self.now
        entry.tried = set()
        entry.timers.append(self.later(entry.queue.spec.timeout, self._attempt_timeout, entry))
        self._ring_next(entry)

    def _ring_next(self, entry: QueueEntry) -> None:
        q = entry.queue
        cands = [m for m in q.members.values() if m.interface not in entry.tried and self._available(m)]
        if not cands:
            if not entry.ringing:
                self._end_attempt(entry)
            return
        for m in members_to_ring(q, cands, self.rng):
            entry.tried.add(m.interface)
            al = self.dial_agent(entry.leg, self.phones[m.extension], entry, m)
            entry.ringing.append(al)

    def _end_attempt(self, entry: QueueEntry) -> None:
        entry.in_attempt = False
        for t in entry.timers[1:]:
            t.cancel()  # type: ignore[attr-defined]
        del entry.timers[1:]
        entry.next_poll = self.now + entry.queue.spec.retry
        self._poll_at(entry)

    def _attempt_timeout(self, entry: QueueEntry) -> None:
        if entry.done or not entry.in_attempt:
            return
        for al in list(entry.ringing):
            self._agent_ring_failed(al, "NOANSWER", 0)
        entry.ringing.clear()
        self._end_attempt(entry)

    def _queue_connect(self, entry: QueueEntry, al: AgentLeg) -> None:
        q, leg, m = entry.queue, entry.leg, al.member
        assert m is not None
        for other in list(entry.ringing):
            if other is not al:
                self._agent_ring_failed(other, "CANCEL", 0, continue_leg=False)
        entry.ringing.clear()
        pos = entry.position
        self._queue_remove(entry)
        ch = leg.ch
        self.event(
            "QueueCallerLeave",
            "agent",
            [*ch.snapshot(), ("Queue", q.name), ("Position", str(pos)), ("Count", str(len(q.entries)))],
        )
        hold = int(self.now) - int(entry.joined)
        ring = int(self.now) - int(al.started)
        self.event(
            "AgentConnect",
            "agent",
            [
                *ch.snapshot(),
                *al.one.snapshot("Dest"),
                ("Queue", q.name),
                ("Interface", m.interface),
                ("MemberName", m.name),
                ("HoldTime", str(hold)),
                ("RingTime", str(ring)),
            ],
        )
        self.queue_log.write(self.now, ch.uniqueid, q.name, m.name, "CONNECT", hold, al.one.uniqueid, ring)
        q.record_hold(hold)
        if q.spec.strategy == "rrmemory":
            q.rr_last = m.order
        leg.queue_connect = entry

    def _queue_remove(self, entry: QueueEntry) -> None:
        entry.done = True
        for t in entry.timers:
            t.cancel()  # type: ignore[attr-defined]
        entry.timers.clear()
        entry.queue.entries.remove(entry)
        entry.leg.entry = None

    def _cancel_ringing(self, entry: QueueEntry) -> None:
        for al in list(entry.ringing):
            self._agent_ring_failed(al, "CANCEL", 0, continue_leg=False)
        entry.ringing.clear()

    def _queue_abandon(self, entry: QueueEntry) -> None:
        """The caller left the queue (hung up or was redirected): Abandon, then Leave."""
        self._leave_queue_unanswered(entry, "ABANDON")
        self.schedule_dispatch()

    def _queue_timeout(self, entry: QueueEntry) -> None:
        if not entry.done:
            self._queue_exit(entry, "TIMEOUT", "EXITWITHTIMEOUT")

    def _queue_exit(self, entry: QueueEntry, status: str, log_event: str) -> None:
        """Queue() returns without an agent: its own timeout, or leavewhenempty."""
        leg = entry.leg
        self._leave_queue_unanswered(entry, log_event)
        self.set_var(leg.ch, "QUEUESTATUS", status)
        self._after_queue(leg, status)
        self.schedule_dispatch()

    def _leave_queue_unanswered(self, entry: QueueEntry, log_event: str) -> None:
        """app_queue's exit without an agent: QueueCallerAbandon then QueueCallerLeave (Asterisk sends
        Abandon for timeouts and empty-queue exits too), and the queue_log line that tells them apart."""
        self._cancel_ringing(entry)
        q, ch = entry.queue, entry.leg.ch
        pos = entry.position
        wait = int(self.now) - int(entry.joined)
        self._queue_remove(entry)
        self.event(
            "QueueCallerAbandon",
            "agent",
            [
                *ch.snapshot(),
                ("Queue", q.name),
                ("Position", str(pos)),
                ("OriginalPosition", str(entry.original_position)),
                ("HoldTime", str(wait)),
            ],
        )
        self.event(
            "QueueCallerLeave",
            "agent",
            [*ch.snapshot(), ("Queue", q.name), ("Position", str(pos)), ("Count", str(len(q.entries)))],
        )
        self.queue_log.write(
            self.now, ch.uniqueid, q.name, "NONE", log_event, pos, entry.original_position, wait
        )
        q.abandoned += 1
        if wait <= q.spec.servicelevel:
            q.abandoned_in_sl += 1

    # ------------------------------------------------------------------ members
    def find_members(self, interface: str, queue: str | None) -> list[Member]:
        """The interface's memberships (in ``queue`` only, when given). An unknown queue has none:
        app_queue answers "Interface not found" (QueuePause) or "Invalid interface, queuename or
        penalty" (QueuePenalty) then, as for an unknown interface."""
        if queue:
            q = self.queues.get(queue)
            qs = [q] if q is not None else []
        else:
            qs = list(self.queues.values())
        return [q.members[interface] for q in qs if interface in q.members]

    def member_event(self, name: str, m: Member) -> None:
        phone = self.phones.get(m.extension)
        in_call = phone.in_call() if phone is not None else False
        if m.state_interface.startswith("Custom:") or phone is None:
            status = 0
        else:
            status = 2 if in_call else 1
        self.event(name, "agent", m.blob(status, in_call))

    def queue_add(
        self,
        queue: str,
        interface: str,
        member_name: str,
        penalty: int,
        paused: bool,
        reason: str,
        state_interface: str,
    ) -> None:
        q = self.queues.get(queue)
        if q is None:
            raise ActionError("Unable to add interface to queue: No such queue")
        if interface in q.members:
            raise ActionError("Unable to add interface: Already there")
        ext = interface.split("/", 1)[-1].split("@", 1)[0]
        m = Member(
            q,
            interface,
            member_name or interface,
            ext,
            penalty=penalty,
            dynamic=True,
            state_interface=state_interface,
            paused=paused,
            paused_reason=reason if paused else "",
            login_time=self.now,
        )
        q.add_member(m)
        self.member_event("QueueMemberAdded", m)
        self.queue_log.write(self.now, "MANAGER", q.name, m.name, "ADDMEMBER", "")
        self.schedule_dispatch()

    def queue_remove(self, queue: str, interface: str) -> None:
        q = self.queues.get(queue)
        if q is None:
            raise ActionError("Unable to remove interface from queue: No such queue")
        m = q.members.get(interface)
        if m is None:
            raise ActionError("Unable to remove interface: Not there")
        if not m.dynamic:
            raise ActionError("Member not dynamic")
        del q.members[interface]
        self.member_event("QueueMemberRemoved", m)
        self.queue_log.write(self.now, "MANAGER", q.name, m.name, "REMOVEMEMBER", "")

    def queue_pause(self, interface: str, paused: bool, queue: str | None, reason: str) -> None:
        members = self.find_members(interface, queue)
        if not members:
            raise ActionError("Interface not found")
        if not queue:
            self.queue_log.write(
                self.now,
                "NONE",
                "NONE",
                members[0].name,
                "PAUSEALL" if paused else "UNPAUSEALL",
                reason if paused else "",
            )
        for m in members:
            m.paused = paused
            m.paused_reason = reason if paused else ""
            if paused:
                m.last_pause = self.now
            self.member_event("QueueMemberPause", m)
            self.queue_log.write(
                self.now,
                "NONE",
                m.queue.name,
                m.name,
                "PAUSE" if paused else "UNPAUSE",
                reason if paused else "",
            )
        self.schedule_dispatch()

    def queue_penalty(self, interface: str, penalty: int, queue: str | None) -> None:
        members = self.find_members(interface, queue)
        if not members:
            raise ActionError("Invalid interface, queuename or penalty")
        for m in members:
            m.penalty = penalty
            self.member_event("QueueMemberPenalty", m)
            self.queue_log.write(self.now, "NONE", m.queue.name, interface, "PENALTY", penalty)
