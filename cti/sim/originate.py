"""Originate: local pairs (callers, the pstn context, click-to-call agents) and trunk channels,
their outcomes and OriginateResponse."""

from __future__ import annotations

from collections.abc import Callable

from cti.asterisk.ami import escape
from cti.sim import pstn as pstn_model
from cti.sim.channels import (
    BUSY,
    UP,
    Headers,
)
from cti.sim.legs import ANSWER_DELAY, Leg, float_var
from cti.sim.pbx_core import PbxCore


class Originate(PbxCore):
    # ------------------------------------------------------------------ originate
    def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int,
        cid_num: str,
        cid_name: str,
        variables: dict[str, str],
        action_id: str | None,
        channel_id: str | None,
        other_channel_id: str | None,
        timeout: float,
        on_result: Callable[[bool], None] | None = None,
    ) -> Leg | None:
        """Start an originate. The outcome arrives as OriginateResponse (Async), as in Asterisk; a
        synchronous originate gets ``on_result(answered)`` instead and no event."""
        target = (context, exten, priority)
        tech, _, resource = channel.partition("/")
        if tech.lower() == "local":
            spec = resource[:-2] if resource.endswith("/n") else resource
            number, _, ctx = spec.partition("@")
            if ctx in ("callers", "pstn") or (ctx == "agents" and number in self.phones):
                return self._originate_local(
                    channel,
                    number,
                    ctx,
                    target,
                    cid_num,
                    cid_name,
                    variables,
                    action_id,
                    channel_id,
                    other_channel_id,
                    timeout,
                    on_result,
                )
        elif tech.upper() in ("PJSIP", "SIP", "IAX2", "DAHDI") and resource:
            number = resource.split("@", 1)[0].rsplit("/", 1)[-1]
            if number.lstrip("+").isdigit():
                return self._originate_trunk(
                    tech.upper(),
                    resource,
                    number,
                    target,
                    cid_num,
                    cid_name,
                    variables,
                    action_id,
                    channel_id,
                    timeout,
                    on_result,
                )
        if on_result is not None:
            on_result(False)
            return None
        self._originate_response(
            action_id, "Failure", channel, target, 0, channel_id or "<null>", cid_num, cid_name
        )
        return None

    def _originate_response(
        self,
        action_id: str | None,
        response: str,
        channel: str,
        target: tuple[str, str, int],
        reason: int,
        uniqueid: str,
        cid_num: str,
        cid_name: str,
        leg: Leg | None = None,
    ) -> None:
        if leg is not None and leg.on_result is not None:  # a synchronous Originate: no event
            done, leg.on_result = leg.on_result, None
            done(response == "Success")
            return
        h: Headers = []
        if action_id is not None:
            h.append(("ActionID", action_id))
        h += [
            ("Response", response),
            ("Channel", channel),
            ("Context", target[0]),
            ("Exten", target[1]),
            ("Reason", str(reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", cid_num or "<unknown>"),
            ("CallerIDName", escape(cid_name or "<unknown>")),
        ]
        self.event("OriginateResponse", "call", h)

    def _originate_local(
        self,
        channel: str,
        number: str,
        ctx: str,
        target: tuple[str, str, int],
        cid_num: str,
        cid_name: str,
        variables: dict[str, str],
        action_id: str | None,
        channel_id: str | None,
        other_channel_id: str | None,
        timeout: float,
        on_result: Callable[[bool], None] | None,
    ) -> Leg:
        one, two = self.channels.create_local_pair(number, ctx, self.now, None, channel_id, other_channel_id)
        self._chan_event("Newchannel", one)
        self._chan_event("Newchannel", two)
        one.variables.update(variables)
        two.variables.update(variables)
        self.set_callerid(one, cid_num, cid_name)
        self.set_connected(one, cid_num, cid_name)
        two.con_num, two.con_name = cid_num, cid_name
        self.set_callerid(two, cid_num, cid_name)
        self.set_connected(two, cid_num, cid_name)
        self.local_bridge_event(one, two)
        dial_string = channel.split("/", 1)[1]
        self.dial_begin(None, one, dial_string)
        leg = Leg(one, two, target, action_id, channel, on_result)
        one.owner = two.owner = leg
        if ctx == "callers":
            two.app, two.appdata = "Wait", two.variable("PATIENCE") or ""
            self._outside_answers(leg)
            patience = float_var(two.variable("PATIENCE"), 3600.0)
            leg.timers.append(self.later(ANSWER_DELAY + patience, self._patience_over, leg))
        elif ctx == "pstn":
            self._pstn_ring(leg, pstn_model.by_last_digit(number), timeout)
        else:  # a call to an agent's phone (click-to-call)
            phone = self.phones[number]
            plan = phone.plan_ring(two.variables, self.rng)
            if plan.answer_after is not None and plan.answer_after < timeout:
                leg.timers.append(self.later(plan.answer_after, self._outside_answers, leg))
            elif plan.reject_after is not None and plan.reject_after < timeout:
                outcome = pstn_model.Outcome(pstn_model.BUSY, plan.reject_after, None)
                leg.timers.append(self.later(plan.reject_after, self._outside_fails, leg, outcome))
            else:
                leg.timers.append(self.later(timeout, self._originate_no_answer, leg))
        return leg

    def _originate_trunk(
        self,
        tech: str,
        resource: str,
        number: str,
        target: tuple[str, str, int],
        cid_num: str,
        cid_name: str,
        variables: dict[str, str],
        action_id: str | None,
        channel_id: str | None,
        timeout: float,
        on_result: Callable[[bool], None] | None,
    ) -> Leg:
        trunk = resource.split("@", 1)[1] if "@" in resource else resource.split("/", 1)[0]
        ch = self.channels.create_tech(tech, trunk, number, "from-trunk", self.now, channel_id)
        self._chan_event("Newchannel", ch)
        ch.variables.update(variables)
        self.set_callerid(ch, cid_num, cid_name)
        self.set_connected(ch, number, "")
        self.dial_begin(None, ch, f"{resource}")
        leg = Leg(ch, None, target, action_id, f"{tech}/{resource}", on_result)
        ch.owner = leg
        self.set_state(ch, 5)  # Ringing
        self._pstn_ring(leg, pstn_model.drawn(self.scenario.pstn, self.rng), timeout)
        return leg

    def _pstn_ring(self, leg: Leg, outcome: pstn_model.Outcome, timeout: float) -> None:
        if leg.outside is not None and outcome.digit:  # the pstn context jumps to its outcome at once
            leg.outside.context, leg.outside.exten = "pstn-outcome", "o" + outcome.digit
        if outcome.kind in (pstn_model.ANSWER, pstn_model.MACHINE) and outcome.after < timeout:
            leg.timers.append(self.later(outcome.after, self._pstn_answers, leg, outcome))
        elif outcome.kind in (pstn_model.BUSY, pstn_model.CONGESTION) and outcome.after < timeout:
            leg.timers.append(self.later(outcome.after, self._outside_fails, leg, outcome))
        else:
            leg.timers.append(self.later(timeout, self._originate_no_answer, leg))

    def _pstn_answers(self, leg: Leg, outcome: pstn_model.Outcome) -> None:
        two = leg.outside
        if two is not None and outcome.digit:
            two.context, two.exten = "pstn-outcome", "o" + outcome.digit
        if outcome.kind == pstn_model.MACHINE:
            leg.ch.variables["AMDSTATUS"] = "MACHINE"
        self._outside_answers(leg)
        talk = outcome.talk
        ptalk = leg.ch.variable("PTALK")
        if outcome.digit in ("0", "4") and ptalk:  # pstn-outcome: Answer, Wait(PTALK), Hangup
            talk = ANSWER_DELAY + float_var(ptalk, 0.0)
        if talk is not None and not leg.done:
            leg.timers.append(self.later(talk, self.outside_hangup, leg, 16))

    def _outside_answers(self, leg: Leg) -> None:
        leg.answered = True
        one, two = leg.ch, leg.outside
        if two is not None:
            self.set_state(two, UP)
        self.set_state(one, UP)
        self.dial_end(None, one, "ANSWER")
        self._originate_response(
            leg.action_id,
            "Success",
            one.name,
            leg.target,
            4,
            one.uniqueid,
            one.cid_num,
            one.cid_name,
            leg=leg,
        )
        one.context, one.exten, one.priority = leg.target
        self.run_dialplan(leg)

    def _outside_fails(self, leg: Leg, outcome: pstn_model.Outcome) -> None:
        busy = outcome.kind == pstn_model.BUSY
        two = leg.outside
        if two is not None:
            if outcome.digit:
                two.context, two.exten = "pstn-outcome", "o" + outcome.digit
            self.set_state(two, BUSY)
        self.dial_end(None, leg.ch, "BUSY" if busy else "CONGESTION")
        self._originate_response(
            leg.action_id,
            "Failure",
            leg.dial_string,
            leg.target,
            5 if busy else 8,
            leg.ch.uniqueid,
            leg.ch.cid_num,
            leg.ch.cid_name,
            leg=leg,
        )
        self._finish_leg(leg, 0, 17 if busy else 34)

    def _originate_no_answer(self, leg: Leg) -> None:
        self._originate_response(
            leg.action_id,
            "Failure",
            leg.dial_string,
            leg.target,
            3,
            leg.ch.uniqueid,
            leg.ch.cid_num,
            leg.ch.cid_name,
            leg=leg,
        )
        self._finish_leg(leg, 19, 19)

    def _finish_leg(self, leg: Leg, cause_one: int, cause_two: int) -> None:
        leg.done = True
        leg.cancel_timers()
        self.hangup_event(leg.ch, cause_one)
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause_two)
