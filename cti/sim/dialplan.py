"""The dialplan: what a leg runs in each context, its hangups, Redirect and BlindTransfer."""

from __future__ import annotations

from collections.abc import Callable

from cti.sim.channels import (
    UP,
    Channel,
)
from cti.sim.chanspy import Spy
from cti.sim.consult import CONFERENCE_CONTEXT
from cti.sim.legs import (
    CALLBACK_KEY,
    CALLBACK_OFFER,
    CALLBACK_PROMPT,
    DELIVER_TIMEOUT,
    DIGIT_TIMEOUT,
    HOLD_SAFETY,
    PROMPT_TIME,
    READ_TIMEOUT,
    RECORDED_DELIVER_TIMEOUT,
    ActionError,
    AgentLeg,
    Leg,
    atoi,
    dial_status,
    float_var,
)
from cti.sim.pbx_core import PbxCore

OFFER_EXTEN = (
    "offer-callback"  # config/asterisk/extensions.conf inbound,offer-callback (cti.delivery.inbound)
)


DIALER_CONTEXT = "cti-dialer"  # [dialer] context
DIALER_MESSAGES = ("cti-dialer-message", "cti-dialer-machine")  # [dialer] message_context, machine_context
AMD_SECONDS = 0.3  # AMD()'s analysis of the greeting (simulated: short)
DIALER_HOLD = 30.0  # Wait() for cti's Redirect to an agent or to the message
MESSAGE_SECONDS = 3.0  # the message's Playback


class Dialplan(PbxCore):
    # ------------------------------------------------------------------ dialplan
    def run_dialplan(self, leg: Leg) -> None:
        ch = leg.ch
        ctx, exten = ch.context, ch.exten
        if ctx in self.contexts:
            self.contexts[ctx](leg)
            return
        if ctx == "inbound" and exten in self.dids:  # a dialled number routed to a queue or to hold
            exten = self.dids[exten]
        sample = self.scenario.dialplan == "sample"
        if ctx == "inbound" and (
            exten == "hold" or (sample and exten.isdigit() and exten not in self.queues)
        ):
            if sample and ch.exten != "hold":  # exten => _X.,1,Set(__DID=${EXTEN}) / n,Goto(hold,1)
                self.set_var(ch, "__DID", ch.exten)
                if self.agi_hook is not None:  # n,AGI(agi://cti-host:4573/route,${EXTEN})
                    self._ask_cti(leg)
                    return
                ch.exten, ch.priority = "hold", 1
            self._hold(leg)
            return
        if ctx == "inbound" and exten == OFFER_EXTEN and sample:
            self._offer_callback(leg)
            return
        if ctx == "inbound" and exten in self.queues:
            ch.priority = 3
            maxwait = self.queues[exten].spec.maxwait
            self.queue_join(leg, self.queues[exten], maxwait)
            return
        if ctx == "deliver" and (exten in self.phones or (sample and exten.isdigit())):
            self._deliver(leg, exten)
            return
        if ctx == CONFERENCE_CONTEXT:  # ConfBridge(${EXTEN}) (cti.sim.consult)
            self.conference_join(leg)
            return
        if ctx == DIALER_CONTEXT:
            self._dialer_amd(leg)
            return
        if ctx in DIALER_MESSAGES:
            self._dialer_message(leg)
            return
        if ctx == "dialer-connect":
            ch.priority = 3
            qname = ch.variable("DIALER_QUEUE") or (
                "sales" if "sales" in self.queues else next(iter(self.queues), "")
            )
            if qname in self.queues:
                cwait = float_var(ch.variable("CWAIT"), self.scenario.cwait)
                self.queue_join(leg, self.queues[qname], cwait)
                return
        # no such extension: the channel hangs up
        self.leg_hangup(leg, 16)

    def _after_queue(self, leg: Leg, status: str) -> None:
        """The dialplan after Queue() returned without a connected agent."""
        if leg.done:
            return
        if leg.ch.context == "dialer-connect":
            ch = leg.ch
            self.event(
                "UserEvent",
                "user",
                [
                    *ch.snapshot(),
                    ("UserEvent", "DialerDrop"),
                    ("Campaign", ch.variable("CAMPAIGN") or ""),
                    ("Number", ch.exten),
                    ("QueueStatus", status),
                ],
            )
            leg.after = self.later(1.0, self.leg_hangup, leg, 16)
            leg.timers.append(leg.after)
            return
        self.leg_hangup(leg, 16)

    # ------------------------------------------------------------------ the CTI dialer (cti.delivery.dialer)
    def _dialer_amd(self, leg: Leg) -> None:
        """``cti-dialer,s`` (config/asterisk/extensions.conf): 1 Answer, 2 AMD(), 3 UserEvent(AMDResult,
        Uniqueid, Status: ${AMDSTATUS}, Cause: ${AMDCAUSE}, CtiChannel: ${CHANNEL}), 4 Wait(30) for cti's
        Redirect, 5 Hangup."""
        ch = leg.ch
        status = ch.variable("AMDSTATUS") or "HUMAN"
        ch.variables["AMDSTATUS"] = status
        ch.variables["AMDCAUSE"] = "LONGGREETING" if status == "MACHINE" else "HUMAN-1-1"
        ch.priority = 3

        def result() -> None:
            if leg.done:
                return
            body = [("Uniqueid", ch.uniqueid), ("Status", status), ("Cause", ch.variables["AMDCAUSE"])]
            body.append(("CtiChannel", ch.name))
            self._user_event(ch, "AMDResult", body)
            ch.priority = 4
            self._next_step(leg, DIALER_HOLD, self.leg_hangup, leg, 16)

        self._next_step(leg, AMD_SECONDS, result)

    def _dialer_message(self, leg: Leg) -> None:
        """``cti-dialer-message,s`` / ``cti-dialer-machine,s``: 1 Answer, 2 UserEvent(CtiMessagePlayed,
        Uniqueid, Message), 3 Playback(the message), 4 Hangup."""
        ch = leg.ch
        self.played.append((ch.uniqueid, ch.context))
        self._user_event(ch, "CtiMessagePlayed", [("Uniqueid", ch.uniqueid), ("Message", ch.context)])
        ch.priority = 3
        self._next_step(leg, MESSAGE_SECONDS, self.leg_hangup, leg, 16)

    # ------------------------------------------------------------------ CTI routing: hold and deliver
    def _next_step(self, leg: Leg, delay: float, fn: Callable[..., object], *args: object) -> None:
        """The dialplan's next step after an application that waits (a Redirect cancels it)."""
        leg.after = self.later(delay, fn, *args)
        leg.timers.append(leg.after)

    def _user_event(self, ch: Channel, name: str, body: list[tuple[str, str]]) -> None:
        self.event("UserEvent", "user", [*ch.snapshot(), ("UserEvent", name), *body])

    def _ask_cti(self, leg: Leg) -> None:
        """``AGI(agi://<cti>/route,${EXTEN})``: the dialplan waits for cti's answer (config/asterisk/
        extensions.conf, the FastAGI variant of ``inbound,_X.``)."""
        ch = leg.ch
        target = self.scenario.agi
        ch.app, ch.appdata, ch.priority = "AGI", f"agi://{target}/route,{ch.exten}", 2
        headers = [
            ("agi_network", "yes"),
            ("agi_network_script", "route"),
            ("agi_request", f"agi://{target}/route"),
            ("agi_channel", ch.name),
            ("agi_language", "en"),
            ("agi_type", ch.name.split("/", 1)[0]),
            ("agi_uniqueid", ch.uniqueid),
            ("agi_version", self.scenario.version),
            ("agi_callerid", ch.cid_num or "unknown"),
            ("agi_calleridname", ch.cid_name or "unknown"),
            ("agi_dnid", ch.exten),
            ("agi_context", ch.context),
            ("agi_extension", ch.exten),
            ("agi_priority", "2"),
            ("agi_threadid", "1"),
            ("agi_arg_1", ch.exten),
        ]
        assert self.agi_hook is not None
        self.agi_hook(headers, lambda variables: self._cti_answered(leg, variables))

    def _cti_answered(self, leg: Leg, variables: dict[str, str] | None) -> None:
        """After AGI(): 3 GotoIf(AGISTATUS != SUCCESS or CTI_QUEUE empty ? fallback), 4 GotoIf(CTI_CLOSED ?
        closed,${CTI_CLOSED},1), 5 Goto(hold,1), 6 (fallback) Queue(<fallback>,t,,,300)."""
        if leg.done:
            return
        ch = leg.ch
        for name, value in (variables or {}).items():
            self.set_var(ch, name, value)
        self.set_var(ch, "AGISTATUS", "FAILURE" if variables is None else "SUCCESS")
        queue = (variables or {}).get("CTI_QUEUE", "")
        closed = (variables or {}).get("CTI_CLOSED", "")
        if not queue:
            fallback = self.scenario.agi_fallback or next(iter(self.queues), "")
            if fallback not in self.queues:
                self.leg_hangup(leg, 16)
                return
            ch.priority = 6
            self.queue_join(leg, self.queues[fallback], self.queues[fallback].spec.maxwait)
            return
        if closed:  # [closed] voicemail / callback / message: played, then Hangup()
            ch.context, ch.exten, ch.priority = "closed", closed, 1
            ch.app, ch.appdata = "Playback", ch.variable("CTI_TARGET") or closed
            self._next_step(leg, PROMPT_TIME, self.leg_hangup, leg, 16)
            return
        ch.exten, ch.priority = "hold", 1
        self._hold(leg)

    def _hold(self, leg: Leg) -> None:
        """``inbound,hold``: the caller waits there for the CTI's Redirect to ``deliver,<agent>``.

        recorded (the transcripts' PBX): 1 NoOp, 2 Answer, 3 UserEvent(CtiWaiting,Uniqueid,CallerIDNum),
        4 Wait(300), 5 Hangup. sample (config/asterisk/extensions.conf): 1 Answer, 2 Read(CHOICE,
        please-choose,1,,1,5), 3 UserEvent(CtiWaiting,Uniqueid,Did,Choice), 4 WaitExten(600,m(default))
        (music on hold; a key runs its extension: ``1`` asks for a callback), 5 Hangup. The caller is
        already up, so Answer() returns at once. A caller with ``CALLBACK_AFTER`` (seconds) presses the
        callback key that long after it began waiting.
        """
        ch = leg.ch
        if self.scenario.dialplan == "recorded":
            ch.priority = 3
            self._user_event(ch, "CtiWaiting", [("Uniqueid", ch.uniqueid), ("CallerIDNum", ch.cid_num)])
            ch.app, ch.appdata, ch.priority = "Wait", "300", 4
            self._next_step(leg, HOLD_SAFETY["recorded"], self._hold_over, leg)
            return
        if ch.priority >= 3:  # Goto(inbound,hold,3) after a failed delivery (or a Redirect there)
            self._cti_waiting(leg)
            return
        ch.app, ch.appdata, ch.priority = "Read", "CHOICE,please-choose,1,,1,5", 2
        digits = (ch.variable("CHOICE") or "")[:1]  # the simulated caller's key press (maxdigits 1)
        self._next_step(leg, PROMPT_TIME + (0.0 if digits else READ_TIMEOUT), self._read_done, leg, digits)

    def _read_done(self, leg: Leg, digits: str) -> None:
        leg.after = None
        self.set_var(leg.ch, "CHOICE", digits)
        self.set_var(leg.ch, "READSTATUS", "OK" if digits else "TIMEOUT")
        self._cti_waiting(leg)

    def _cti_waiting(self, leg: Leg) -> None:
        ch = leg.ch
        ch.context, ch.exten, ch.priority = "inbound", "hold", 3
        did, choice = ch.variable("DID") or "", ch.variable("CHOICE") or ""
        self._user_event(ch, "CtiWaiting", [("Uniqueid", ch.uniqueid), ("Did", did), ("Choice", choice)])
        ch.variables["CTI_HOLD_SINCE"] = f"{self.now:.3f}"  # WaitExten(600) from each CtiWaiting
        self._wait_exten(leg)
        after = ch.variable("CALLBACK_AFTER")
        if after and not ch.variable("CALLBACK_PRESSED"):
            leg.timers.append(self.later(float_var(after, 0.0), self._key_pressed, leg, CALLBACK_KEY))

    def _wait_exten(self, leg: Leg) -> None:
        """``hold,4``: ``WaitExten(${CTI_ANNOUNCE_EVERY},m(default))``. With the FastAGI dialplan and
        CTI_ANNOUNCE_EVERY set (the [globals] default, or cti's answer), its timeout runs ``t``: the
        periodic announcement asks cti (``_announce``); without, WaitExten(600) and the safety net. The
        holding extension gives up 600 s after the caller began waiting (``CTI_HOLD_SINCE``) either way."""
        ch = leg.ch
        since = float_var(ch.variable("CTI_HOLD_SINCE"), self.now)
        left = max(0.0, since + HOLD_SAFETY["sample"] - self.now)
        every = float_var(ch.variable("CTI_ANNOUNCE_EVERY"), 0.0) if self.agi_hook is not None else 0.0
        if every > 0:
            ch.app, ch.appdata, ch.priority = "WaitExten", f"{every:g},m(default)", 4
            if every < left:
                self._next_step(leg, every, self._announce, leg)
                return
        else:
            ch.app, ch.appdata, ch.priority = "WaitExten", "600,m(default)", 4
        self._next_step(leg, left, self._hold_over, leg)

    def _announce(self, leg: Leg) -> None:
        """``inbound,t`` (WaitExten's timeout): 1 AGI(agi://<cti>/announce): cti answers CTI_EWT,
        CTI_OFFER_CALLBACK, CTI_QUEUE, CTI_ANNOUNCE_EVERY (cti.delivery.service.RoutingService.announce)."""
        leg.after = None
        ch = leg.ch
        target = self.scenario.agi
        ch.exten, ch.priority, ch.app, ch.appdata = "t", 1, "AGI", f"agi://{target}/announce"
        headers = [
            ("agi_network", "yes"),
            ("agi_network_script", "announce"),
            ("agi_request", f"agi://{target}/announce"),
            ("agi_channel", ch.name),
            ("agi_uniqueid", ch.uniqueid),
            ("agi_callerid", ch.cid_num or "unknown"),
            ("agi_context", ch.context),
            ("agi_extension", "t"),
            ("agi_priority", "1"),
        ]
        assert self.agi_hook is not None
        self.agi_hook(headers, lambda variables: self._announced(leg, variables))

    def _announced(self, leg: Leg, variables: dict[str, str] | None) -> None:
        """After the announcement's AGI(): 2 GotoIf(CTI_OFFER_CALLBACK = 1 ? offer-callback,1), 3
        ExecIf(CTI_EWT ? Playback/SayNumber of the wait), 4 Goto(inbound,hold,4). A Redirect meanwhile
        (a delivery) took the channel elsewhere: the answer is heard by nobody."""
        ch = leg.ch
        if leg.done or leg.peer is not None or ch.exten != "t" or ch.app != "AGI":
            return
        for name, value in (variables or {}).items():
            self.set_var(ch, name, value)
        self.set_var(ch, "AGISTATUS", "FAILURE" if variables is None else "SUCCESS")
        ch.variables["CTI_ANNOUNCEMENTS"] = str(int(ch.variable("CTI_ANNOUNCEMENTS") or "0") + 1)
        if (variables or {}).get("CTI_OFFER_CALLBACK") == "1":
            ch.exten = OFFER_EXTEN
            self._offer_callback(leg)
            return
        if (variables or {}).get("CTI_EWT"):
            ch.app, ch.appdata, ch.priority = "SayNumber", variables["CTI_EWT"] if variables else "", 3
            self._next_step(leg, PROMPT_TIME, self._announcement_played, leg)
            return
        self._announcement_played(leg)

    def _announcement_played(self, leg: Leg) -> None:
        leg.after = None
        leg.ch.exten = "hold"
        self._wait_exten(leg)

    def _key_pressed(self, leg: Leg, digit: str) -> None:
        """The waiting caller presses a key during WaitExten (DTMFBegin/DTMFEnd); after the digit
        timeout the dialplan runs the key's extension in ``inbound``."""
        ch = leg.ch
        if leg.done or leg.peer is not None or ch.app not in ("WaitExten", "BackGround"):
            return  # delivered meanwhile (or gone): the key is heard by nobody
        ch.variables["CALLBACK_PRESSED"] = "1"
        self.event("DTMFBegin", "dtmf", [*ch.snapshot(), ("Digit", digit), ("Direction", "Received")])
        end = [*ch.snapshot(), ("Digit", digit), ("DurationMs", "120"), ("Direction", "Received")]
        self.event("DTMFEnd", "dtmf", end)
        if leg.after is not None:
            leg.after.cancel()
        self._next_step(leg, DIGIT_TIMEOUT, self._callback_extension, leg, digit)

    def _offer_callback(self, leg: Leg) -> None:
        """``inbound,offer-callback`` (cti Redirects a held call there when its EWT is long): 1
        BackGround(cti-callback-offer) (a key during it runs its extension, as in WaitExten), 2
        Goto(inbound,hold,4): back to WaitExten, no new CtiWaiting. ``CALLBACK_IF_OFFERED`` (seconds):
        the simulated caller presses the key that long into the offer (``CALLBACK_AT_OFFER``: into that
        offer, the first by default). Also reached from the periodic announcement (``_announced``)."""
        ch = leg.ch
        ch.app, ch.appdata, ch.priority = "BackGround", "cti-callback-offer", 1
        ch.variables["CALLBACK_OFFERED"] = str(int(ch.variable("CALLBACK_OFFERED") or "0") + 1)
        self._next_step(leg, CALLBACK_OFFER, self._offer_done, leg)
        after = ch.variable("CALLBACK_IF_OFFERED")
        nth = int(float_var(ch.variable("CALLBACK_AT_OFFER"), 1.0))  # the offer it takes (1: the first)
        if after and not ch.variable("CALLBACK_PRESSED") and int(ch.variables["CALLBACK_OFFERED"]) >= nth:
            delay = min(float_var(after, 0.0), CALLBACK_OFFER / 2)
            leg.timers.append(self.later(delay, self._key_pressed, leg, CALLBACK_KEY))

    def _offer_done(self, leg: Leg) -> None:
        leg.after = None
        ch = leg.ch
        ch.context, ch.exten = "inbound", "hold"
        self._wait_exten(leg)

    def _callback_extension(self, leg: Leg, digit: str) -> None:
        """``inbound,1``: 1 GotoIf(no caller number?inbound,hold,4), 2 UserEvent(CtiCallbackRequest,
        Uniqueid,Number,Key), 3 Playback(cti-callback-booked), 4 Hangup(). cti keeps the caller's place
        in a virtual entry and calls back."""
        leg.after = None
        ch = leg.ch
        if not ch.cid_num:  # a withheld number cannot be called back: back to WaitExten
            self._wait_exten(leg)
            return
        ch.context, ch.exten, ch.priority = "inbound", digit, 2
        body = [("Uniqueid", ch.uniqueid), ("Number", ch.cid_num), ("Key", digit)]
        self._user_event(ch, "CtiCallbackRequest", body)
        ch.app, ch.appdata, ch.priority = "Playback", "cti-callback-booked", 3
        self._next_step(leg, CALLBACK_PROMPT, self._callback_booked, leg)

    def _callback_booked(self, leg: Leg) -> None:
        leg.after = None
        leg.ch.app, leg.ch.appdata, leg.ch.priority = "Hangup", "", 4
        self.leg_hangup(leg, 16)

    def _hold_over(self, leg: Leg) -> None:
        """The holding extension's safety net: nobody routed the call in time; Hangup()."""
        leg.after = None
        leg.ch.app, leg.ch.appdata, leg.ch.priority = "Hangup", "", 5
        self.leg_hangup(leg, 16)

    def _deliver(self, leg: Leg, exten: str) -> None:
        """``deliver,<agent>``: Dial the agent's phone.

        recorded: 1 NoOp, 2 Dial(Local/${EXTEN}@agents/n,10), 3 Hangup. sample: 1 Dial(<agent>,20,t)
        (``DELIVER_TIMEOUT`` on the channel overrides 20; 0 or garbage rings forever, as Dial's atoi
        timeout does), 2 UserEvent(CtiDeliveryFailed,Uniqueid,Agent,Status: ${DIALSTATUS}),
        3 Goto(inbound,hold,3): the caller waits again and CtiWaiting is raised again.
        """
        ch = leg.ch
        if self.scenario.dialplan == "recorded":
            timeout, appdata, ch.priority = RECORDED_DELIVER_TIMEOUT, f"Local/{exten}@agents/n,10", 2
        else:
            raw = ch.variable("DELIVER_TIMEOUT")
            timeout = DELIVER_TIMEOUT if not raw else atoi(raw)
            shown = str(DELIVER_TIMEOUT) if not raw else raw
            appdata, ch.priority = f"Local/{exten}@agents/n,{shown},t", 1
        phone = self.phones.get(exten)
        if phone is None:  # the Local channel exists but its call fails: no such extension in agents
            one, two = self.channels.create_local_pair(exten, "agents", self.now, ch.linkedid)
            self._chan_event("Newchannel", one)
            self._chan_event("Newchannel", two)
            self.hangup_event(one, 0)
            self.hangup_event(two, 0)
            ch.app, ch.appdata = "Dial", appdata
            self._after_dial(leg, "CHANUNAVAIL")
            return
        al = self.dial_agent(leg, phone, None, None)
        ch.app, ch.appdata = "Dial", appdata
        if timeout > 0:
            self._next_step(leg, float(timeout), self._dial_timeout, leg, al)

    def _dial_timeout(self, leg: Leg, al: AgentLeg) -> None:
        leg.after = None
        if leg.dialing is al:
            self._dial_failed(al, "NOANSWER", 0, 0)

    def _after_dial(self, leg: Leg, status: str) -> None:
        """The dialplan after Dial() in deliver returned without an answer."""
        if leg.done or self.consult_dial_over(leg, status):
            return
        ch = leg.ch
        self.set_var(ch, "DIALSTATUS", status)
        if self.scenario.dialplan == "recorded":
            ch.app, ch.appdata, ch.priority = "Hangup", "", 3
            self.leg_hangup(leg, 16)
            return
        ch.priority = 2
        body = [("Uniqueid", ch.uniqueid), ("Agent", ch.exten), ("Status", status)]
        self._user_event(ch, "CtiDeliveryFailed", body)
        ch.priority = 3  # Goto(inbound,hold,3)
        self._cti_waiting(leg)

    # ------------------------------------------------------------------ hangups
    def hangup_channel(self, ch: Channel, cause: int) -> None:
        """An AMI Hangup (or any soft hangup) of one channel, whatever its role."""
        if self.consult_hangup(ch, cause):
            return
        owner = ch.owner
        if isinstance(owner, Leg):
            if ch is owner.outside:
                self.outside_hangup(owner, cause)
            else:
                self.leg_hangup(owner, cause)
        elif isinstance(owner, AgentLeg):
            if owner.answered:
                self.agent_hangup(owner, cause)
            elif owner.entry is None:  # Dial(): app_dial reads the hangup and reports its cause
                self._dial_failed(owner, dial_status(cause), cause, cause)
            else:
                self._agent_ring_failed(owner, "BUSY" if cause == 17 else "CANCEL", cause)
        elif isinstance(owner, Spy):
            self.spyer_hangup(owner, cause)
        else:
            self.hangup_event(ch, cause)

    def _patience_over(self, leg: Leg) -> None:
        """The caller's Wait(PATIENCE) ends: the real dialplan hangs up, talking or not.

        ``PATIENCE_SCOPE=wait`` (set by the simulator's own traffic) makes it a waiting patience: a
        caller who is talking to an agent by then stays on the line until the conversation ends.
        """
        if leg.peer is not None and leg.ch.variable("PATIENCE_SCOPE") == "wait":
            # still talking: should the call come back to waiting (a transfer), patience starts again
            patience = float_var(leg.ch.variable("PATIENCE"), 3600.0)
            leg.timers.append(self.later(patience, self._patience_over, leg))
            return
        self.outside_hangup(leg, 16)

    def outside_hangup(self, leg: Leg, cause: int) -> None:
        """The outside party (the caller's ;2, or the called number) hangs up."""
        if leg.done:
            return
        if leg.peer is not None:  # talking to an agent
            self._end_talk(leg, "caller", cause)
            return
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause)
        self.leg_hangup(leg, cause)

    def leg_hangup(self, leg: Leg, cause: int) -> None:
        """The dialplan side hangs up (the end of the dialplan, an AMI Hangup, or its caller left)."""
        if leg.done or self.consult_transferee_gone(leg, cause):
            return
        if leg.peer is not None:
            self._end_talk(leg, "caller", cause)
            return
        leg.done = True
        leg.cancel_timers()
        if leg.entry is not None:
            self._queue_abandon(leg.entry)
        if leg.dialing is not None:
            self._agent_ring_failed(leg.dialing, "CANCEL", 0, continue_leg=False)
        self.hangup_event(leg.ch, cause)
        if leg.outside is not None:
            self.hangup_event(leg.outside, cause)
        self.consult_leg_over(leg, cause)  # a warm transfer's consultation leg, or its customer

    # ------------------------------------------------------------------ transfers
    def blind_transfer(self, ch: Channel, context: str, exten: str) -> None:
        leg = ch.owner
        if isinstance(leg, Leg) and ch is leg.ch and leg.peer is None and not leg.done:
            self.redirect(ch, context, exten, 1)  # not bridged: a blind transfer is an async goto
            return
        al = ch.owner
        if not isinstance(al, AgentLeg) or not al.answered or al.done or ch is not al.one:
            raise ActionError("Transfer failed")
        leg = al.leg
        b = leg.bridge
        if b is None:
            raise ActionError("Transfer failed")
        self.event(
            "BlindTransfer",
            "call",
            [
                ("Result", "Success"),
                *[("Transferer" + k, v) for k, v in ch.snapshot()],
                *[("Transferee" + k, v) for k, v in leg.ch.snapshot()],
                *b.snapshot(),
                ("IsExternal", "Yes"),
                ("Context", context),
                ("Extension", exten),
            ],
        )
        self._complete(leg, al, "transfer", (context, exten))
        al.done = True
        al.cancel_timers()
        leg.peer = None
        leg.bridge = None
        leg.ch.context, leg.ch.exten, leg.ch.priority = context, exten, 1
        self.bridge_leave(leg.ch)
        self.run_dialplan(leg)
        self.bridge_leave(al.one)
        self.event("BridgeDestroy", "call", b.snapshot())
        self.hangup_event(al.one, 16)
        self.hangup_event(al.two, 16)
        al.phone.legs.remove(al)
        self._member_status(al.phone)
        self.schedule_dispatch()

    def redirect(self, ch: Channel, context: str, exten: str, priority: int) -> None:
        if self.conference_redirect(ch, context, exten):  # bridged parties into ConfBridge
            return
        leg = ch.owner
        if not isinstance(leg, Leg) or ch is not leg.ch or leg.done:
            raise ActionError("Redirect failed")
        if ch.state != UP:
            raise ActionError("Redirect failed, channel not up.")
        if leg.after is not None:  # the channel leaves the dialplan it was running
            leg.after.cancel()
            leg.after = None
        if leg.entry is not None:
            self._queue_abandon(leg.entry)
        if leg.dialing is not None:
            self._agent_ring_failed(leg.dialing, "CANCEL", 0, continue_leg=False)
            leg.dialing = None
        if leg.peer is not None:
            al = leg.peer
            b = leg.bridge
            self._complete(leg, al, "transfer", (context, exten))
            leg.peer = None
            leg.bridge = None
            al.done = True
            al.cancel_timers()
            self.bridge_leave(ch)
            self.bridge_leave(al.one)
            if b is not None:
                self.event("BridgeDestroy", "call", b.snapshot())
            self.hangup_event(al.one, 16)
            self.hangup_event(al.two, 16)
            al.phone.legs.remove(al)
            self._member_status(al.phone)
        ch.context, ch.exten, ch.priority = context, exten, priority
        self.run_dialplan(leg)
        self.schedule_dispatch()
