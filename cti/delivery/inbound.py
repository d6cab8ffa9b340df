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
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from cti.routing.ewt import Estimate, offers_callback, overflow_queue
from cti.routing.policy import QueuePolicy, SkillNeed
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


async def redirect_with(
    link: AmiLink,
    channel: str,
    variables: Mapping[str, str],
    context: str,
    exten: str,
    limit: float,
    what: str,
    still: Callable[[], bool] | None = None,
) -> bool:
    """``Setvar`` of each variable on the held channel, then ``Redirect`` to ``<context>,<exten>,1``;
    not sent (False) when ``still()`` is false just before it."""
    try:
        async with asyncio.timeout(limit):
            for name, value in variables.items():
                await link.send_action(
                    {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
                )
            if still is not None and not still():
                log.info("%s: %s no longer waits: not sent", what, channel)
                return False
            reply = await link.send_action(
                {
                    "Action": "Redirect",
                    "Channel": channel,
                    "Context": context,
                    "Exten": exten,
                    "Priority": "1",
                }
            )
    except Exception as e:
        log.warning("%s: could not send %s to %s: %s", what, channel, context, e)
        return False
    ok, message = reply_ok(reply)
    if not ok:
        log.warning("%s: Asterisk refused Redirect of %s: %s", what, channel, message)
    return ok


async def send_closed(link: AmiLink, channel: str, decision: Closed, context: str, limit: float) -> bool:
    """A held call in closed hours: its variables, then ``Redirect`` to ``<context>,<action>,1``."""
    variables = {
        "CTI_CLOSED": decision.action.value,
        "CTI_TARGET": decision.target,
        "CTI_QUEUE": decision.queue,
    }
    action = decision.action.value
    return await redirect_with(link, channel, variables, context, action, limit, "closed hours")


OFFER_EXTEN = "offer-callback"  # the holding context's extension that offers the callback key


async def offer_callback(
    link: AmiLink,
    channel: str,
    seconds: float,
    context: str,
    limit: float,
    still: Callable[[], bool] | None = None,
) -> bool:
    """A held call whose EWT is above its queue's ``offer_callback_above``: CTI_EWT and
    CTI_OFFER_CALLBACK=1, then ``Redirect`` to ``<holding context>,offer-callback,1``, which plays the
    offer (``Background``: the callback key works during it) and goes back to waiting (``hold,4``,
    ``WaitExten``; no new CtiWaiting, the caller's place is unchanged). The caller is never forced.
    ``still``: the call still waits (not offered to an agent meanwhile): a Redirect after the deliver
    Redirect would take the caller from the agent's ringing phone; the link keeps the actions' order."""
    ewt = str(round(seconds)) if math.isfinite(seconds) else ""
    variables = {"CTI_EWT": ewt, "CTI_OFFER_CALLBACK": "1"}
    return await redirect_with(link, channel, variables, context, OFFER_EXTEN, limit, "callback offer", still)


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


def placed(route: Route, policies: Mapping[str, QueuePolicy], estimator: Estimator) -> tuple[Route, float]:
    """Where a routed call joins, with its estimated wait there at entry (``math.nan``: unknown): its
    rule's queue, or that queue's ``overflow_to`` (cti.routing.ewt.overflow_queue) with the rule's
    priority and skills kept. The FastAGI answer and the routing service place a call the same way."""

    def wait(queue: str) -> float:
        try:
            return estimator.estimate(queue, route.skills, priority=route.priority).seconds
        except KeyError:
            return math.nan

    target = overflow_queue(route.queue, policies, wait)
    if target is not None:
        log.info("rule %r: EWT in %s above its threshold: overflow to %s", route.rule, route.queue, target)
        route = replace(route, queue=target)
    return route, wait(route.queue)


class InboundDecider:
    """The answer to ``AGI(agi://cti:4573/route)``: the rules' decision as channel variables.

    CTI_QUEUE, CTI_PRIORITY, CTI_SKILLS (``sales:5,lang_fr:1``), CTI_RULE, CTI_EWT (whole seconds,
    empty when unknown), CTI_CLOSED (``voicemail``/``callback``/``message``, empty when open),
    CTI_TARGET, CTI_OFFER_CALLBACK (``1``: the EWT is above the queue's ``offer_callback_above``, the
    caller's number is known and callbacks are enabled: the dialplan offers the callback key). CTI_QUEUE
    is the overflow queue when the EWT in the rule's queue is above its ``overflow_if_ewt_above``
    (``placed``). The CRM look-up is waited for at most ``lookup`` seconds (less than the AGI deadline)."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        cards: CallerCards | None = None,
        estimator: Estimator | None = None,
        policies: Mapping[str, QueuePolicy] | None = None,
        callbacks: bool = True,
        clock: Callable[[], float] = time.time,
        lookup: float = 0.2,
    ) -> None:
        self.rules = rules
        self.cards = cards
        self.estimator = estimator
        self.policies: Mapping[str, QueuePolicy] = policies if policies is not None else {}
        self.callbacks = callbacks  # [routing.callbacks] enabled: a callback may be offered
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
        seconds = math.nan
        if self.estimator is not None:
            decision, seconds = placed(decision, self.policies, self.estimator)
        policy = self.policies.get(decision.queue)
        offer = self.callbacks and bool(number) and policy is not None and offers_callback(policy, seconds)
        return {
            "CTI_QUEUE": decision.queue,
            "CTI_PRIORITY": str(decision.priority),
            "CTI_SKILLS": ",".join(f"{n.skill}:{n.level}" for n in decision.skills),
            "CTI_RULE": decision.rule,
            "CTI_CLOSED": "",
            "CTI_EWT": str(round(seconds)) if math.isfinite(seconds) else "",
            "CTI_OFFER_CALLBACK": "1" if offer else "",  # a withheld number cannot be called back
        }
