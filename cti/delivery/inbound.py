"""The edge of the inbound rules (cti.routing.rules): the CRM card as ``CallerFacts``, closed hours in
Asterisk, and the dialplan's question over FastAGI (``InboundDecider``, served by cti.delivery.agi).

A decision taken for the dialplan (FastAGI, before the call reaches the holding extension) and the one
the routing service takes for the held call (``CtiWaiting``) come from the same ``RuleSet`` with the
same facts, so they agree; the service's is the one that counts for CTI-routed calls.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from cti.routing.ewt import Estimate
from cti.routing.policy import SkillNeed
from cti.routing.rules import CallerFacts, Closed, InboundCall, Route, RuleSet
from cti.screenpop.actions import reply_ok

log = logging.getLogger("cti.delivery.inbound")


def caller_facts(card: Any) -> CallerFacts:
    """What the screen pop's card (cti.store.caller.CallerCard.to_json) says of the caller's first match."""
    data = getattr(card, "data", None) or {}
    customers = data.get("customers") or []
    if not customers or not isinstance(customers[0], dict):
        return CallerFacts()
    first = customers[0]
    return CallerFacts(
        tier=str(first.get("tier") or "") or None,
        has_owner=bool(first.get("owner")),
        open_complaint=bool(first.get("open_complaints")),
    )


class AmiLink(Protocol):
    async def send_action(self, action: dict[str, str]) -> Any: ...


async def send_closed(link: AmiLink, channel: str, decision: Closed, context: str, limit: float) -> bool:
    """A held call in closed hours: its variables, then ``Redirect`` to ``<context>,<action>,1``."""
    variables = {
        "CTI_CLOSED": decision.action.value,
        "CTI_TARGET": decision.target,
        "CTI_QUEUE": decision.queue,
    }
    try:
        async with asyncio.timeout(limit):
            for name, value in variables.items():
                await link.send_action(
                    {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
                )
            reply = await link.send_action(
                {
                    "Action": "Redirect",
                    "Channel": channel,
                    "Context": context,
                    "Exten": decision.action.value,
                    "Priority": "1",
                }
            )
    except Exception as e:
        log.warning("closed hours: could not send %s to %s: %s", channel, context, e)
        return False
    ok, message = reply_ok(reply)
    if not ok:
        log.warning("closed hours: Asterisk refused Redirect of %s: %s", channel, message)
    return ok


class CallerCards(Protocol):
    def cached(self, number: str) -> Any: ...

    def request(self, number: str, done: Callable[[Any], None]) -> None: ...


class Estimator(Protocol):
    def estimate(
        self,
        queue: str | None = None,
        needs: tuple[SkillNeed, ...] = (),
        *,
        call: str | None = None,
        priority: int = 0,
    ) -> Estimate: ...


class InboundDecider:
    """The answer to ``AGI(agi://cti:4573/route)``: the rules' decision as channel variables.

    CTI_QUEUE, CTI_PRIORITY, CTI_SKILLS (``sales:5,lang_fr:1``), CTI_RULE, CTI_EWT (whole seconds,
    empty when unknown), CTI_CLOSED (``voicemail``/``callback``/``message``, empty when open),
    CTI_TARGET. The CRM look-up is waited for at most ``lookup`` seconds (less than the AGI deadline)."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        cards: CallerCards | None = None,
        estimator: Estimator | None = None,
        clock: Callable[[], float] = time.time,
        lookup: float = 0.2,
    ) -> None:
        self.rules = rules
        self.cards = cards
        self.estimator = estimator
        self.clock = clock
        self.lookup = lookup

    async def facts(self, number: str) -> CallerFacts:
        if self.cards is None or not number:
            return CallerFacts()
        card = self.cards.cached(number)
        if card is None:
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[Any] = loop.create_future()

            def done(c: Any) -> None:
                if not fut.done():
                    fut.set_result(c)

            self.cards.request(number, done)
            try:
                async with asyncio.timeout(self.lookup):
                    card = await fut
            except TimeoutError:
                card = None
        return caller_facts(card)

    async def variables(self, did: str, number: str, choice: str) -> dict[str, str]:
        facts = await self.facts(number)
        decision = self.rules.decide(InboundCall(did, number, choice, self.clock(), facts))
        if decision is None:
            return {"CTI_QUEUE": "", "CTI_CLOSED": "", "CTI_RULE": ""}
        if isinstance(decision, Closed):
            return {
                "CTI_QUEUE": decision.queue,
                "CTI_CLOSED": decision.action.value,
                "CTI_TARGET": decision.target,
                "CTI_RULE": decision.rule,
            }
        out = {
            "CTI_QUEUE": decision.queue,
            "CTI_PRIORITY": str(decision.priority),
            "CTI_SKILLS": ",".join(f"{n.skill}:{n.level}" for n in decision.skills),
            "CTI_RULE": decision.rule,
            "CTI_CLOSED": "",
            "CTI_EWT": self._ewt(decision),
        }
        return out

    def _ewt(self, decision: Route) -> str:
        if self.estimator is None:
            return ""
        try:
            e = self.estimator.estimate(decision.queue, decision.skills, priority=decision.priority)
        except KeyError:
            return ""
        return str(round(e.seconds)) if math.isfinite(e.seconds) else ""
