"""ChanSpy (apps/app_chanspy.c) as the application of an ``Originate Application=ChanSpy``: a supervisor's
phone listens to, whispers to or barges into an agent's call.

``Data`` is ``<chanprefix>,<options>``. The spyer's phone (any ``TECH/resource`` channel: the supervisor's
handset) rings, answers after ``RINGDELAY`` (default 1 s) and runs ChanSpy, which picks the first live
channel whose name starts with ``chanprefix`` (case-insensitive, as ``ast_channel_iterator_by_name_new``),
never itself nor a channel that is spying. Options read here:

===  ===========================================================================================
q    quiet: no beep before spying (the sim never plays one; read for completeness)
E    the spyer hangs up when the spied-on channel hangs up
S    the spyer hangs up when no channel matches (otherwise ChanSpy looks again every second)
b    only channels in a bridge
w    whisper: the spyer talks to the spied-on channel
B    barge: the spyer talks to both parties
d    DTMF 4, 5, 6 switch to spy, whisper, barge (``PlayDTMF Receive=true`` on the spyer's channel)
===  ===========================================================================================

Events, as ``publish_chanspy_message``: ``ChanSpyStart`` with the spyer's channel block (``Spyer``
prefix) and the spied-on one's (``Spyee``) when spying begins; ``ChanSpyStop`` with the spyer's block
only when it ends (the spyee hung up, or the spyer did), before the spyer's own Hangup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.asterisk.ami import escape
from cti.sim.channels import RINGING, UP, Channel, Headers
from cti.sim.legs import RECHECK, float_var
from cti.sim.originate import Originate
from cti.sim.timeline import Timer

MODES = {"4": "spy", "5": "whisper", "6": "barge"}


@dataclass(eq=False, slots=True)
class Spy:
    """One ChanSpy run: the spyer's channel, what it looks for, and whom it spies on now."""

    spyer: Channel
    prefix: str
    options: str
    action_id: str | None
    mode: str = "spy"  # "spy" (listen), "whisper", "barge"
    spyee: Channel | None = None
    timers: list[Timer] = field(default_factory=list)
    done: bool = False

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


def spy_options(data: str) -> tuple[str, str]:
    """(chanprefix, option letters) of ChanSpy's ``Data`` (option arguments such as ``v(2)`` dropped)."""
    prefix, _, options = data.partition(",")
    letters, depth = [], 0
    for c in options:
        if c == "(":
            depth += 1
        elif c == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            letters.append(c)
    return prefix.strip(), "".join(letters)


class ChanSpyApp(Originate):
    def originate_app(
        self,
        channel: str,
        app: str,
        data: str,
        cid_num: str,
        cid_name: str,
        variables: dict[str, str],
        action_id: str | None,
        channel_id: str | None,
        timeout: float,
    ) -> Spy | None:
        """``Originate Channel=<phone> Application=<app> Data=<data>``. Only ChanSpy runs here; any
        other application fails with Reason 0, as an originate nothing answers."""
        tech, _, resource = channel.partition("/")
        target = ("", "", 1)
        if app.lower() != "chanspy" or not resource or tech.lower() == "local":
            self._originate_response(
                action_id, "Failure", channel, target, 0, channel_id or "<null>", cid_num, cid_name
            )
            return None
        ch = self.channels.create_tech(tech, resource, "", "", self.now, channel_id)
        self._chan_event("Newchannel", ch)
        ch.variables.update(variables)
        self.set_callerid(ch, cid_num, cid_name)
        self.dial_begin(None, ch, resource)
        self.set_state(ch, RINGING)
        prefix, options = spy_options(data)
        spy = Spy(ch, prefix, options, action_id)
        spy.mode = "barge" if "B" in options else "whisper" if "w" in options else "spy"
        ch.owner = spy
        ch.app, ch.appdata = "ChanSpy", data
        self.spies.append(spy)
        ring = float_var(ch.variable("RINGDELAY"), 1.0)
        if ring < timeout:
            spy.timers.append(self.later(ring, self._spyer_answers, spy, channel))
        else:
            spy.timers.append(self.later(timeout, self._spyer_no_answer, spy, channel))
        return spy

    def _spyer_answers(self, spy: Spy, dial_string: str) -> None:
        ch = spy.spyer
        self.set_state(ch, UP)
        self.dial_end(None, ch, "ANSWER")
        self._originate_response(
            spy.action_id, "Success", ch.name, ("", "", 1), 4, ch.uniqueid, ch.cid_num, ch.cid_name
        )
        self._spy_look(spy)

    def _spyer_no_answer(self, spy: Spy, dial_string: str) -> None:
        ch = spy.spyer
        spy.done = True
        self.spies.remove(spy)
        self.dial_end(None, ch, "NOANSWER")
        self._originate_response(
            spy.action_id, "Failure", dial_string, ("", "", 1), 3, ch.uniqueid, ch.cid_num, ch.cid_name
        )
        self.hangup_event(ch, 19)

    def _spy_look(self, spy: Spy) -> None:
        if spy.done:
            return
        low = spy.prefix.lower()
        spying = {s.spyer.uniqueid for s in self.spies}
        for cand in self.channels.all():
            if (
                cand is spy.spyer
                or cand.hungup
                or cand.uniqueid in spying
                or not cand.name.lower().startswith(low)
            ):
                continue
            if "b" in spy.options and cand.bridge is None:
                continue
            self._spy_start(spy, cand)
            return
        if "S" in spy.options:  # no channel left to spy on: ChanSpy returns, the dialplan hangs up
            self._spy_end(spy, 16)
        else:
            spy.timers.append(self.later(RECHECK, self._spy_look, spy))

    def _spy_start(self, spy: Spy, spyee: Channel) -> None:
        spy.spyee = spyee
        self.event("ChanSpyStart", "call", [*spy.spyer.snapshot("Spyer"), *spyee.snapshot("Spyee")])

    def _spy_stop(self, spy: Spy) -> None:
        if spy.spyee is not None:
            spy.spyee = None
            self.event("ChanSpyStop", "call", spy.spyer.snapshot("Spyer"))

    def _spy_end(self, spy: Spy, cause: int) -> None:
        spy.done = True
        if spy in self.spies:
            self.spies.remove(spy)
        spy.cancel_timers()
        self._spy_stop(spy)
        self.hangup_event(spy.spyer, cause)

    def spyer_hangup(self, spy: Spy, cause: int) -> None:
        """The spyer's channel is hung up (AMI Hangup, or the supervisor puts the phone down)."""
        if spy.done:
            self.hangup_event(spy.spyer, cause)
            return
        self._spy_end(spy, cause)

    def spyee_gone(self, ch: Channel) -> None:
        """``ch`` hung up: whoever spied on it stops (ChanSpyStop); with E, the spyer hangs up too."""
        for spy in list(self.spies):
            if spy.spyee is not ch:
                continue
            if "E" in spy.options:
                self._spy_end(spy, 16)
            else:
                self._spy_stop(spy)
                spy.timers.append(self.later(RECHECK, self._spy_look, spy))

    def play_dtmf(self, ch: Channel, digit: str, receive: bool, duration_ms: int) -> None:
        """``PlayDTMF``: a DTMFEnd event; with Receive, the digit is read by the application on the
        channel, so a ChanSpy with ``d`` switches mode on 4, 5 or 6."""
        h: Headers = [
            *ch.snapshot(),
            ("Digit", escape(digit)),
            ("DurationMs", str(duration_ms)),
            ("Direction", "Received" if receive else "Sent"),
        ]
        self.event("DTMFEnd", "dtmf", h)
        spy = ch.owner
        if receive and isinstance(spy, Spy) and not spy.done and "d" in spy.options and digit in MODES:
            spy.mode = MODES[digit]
