"""The simulated PBX: the real transcripts' dialplan, channels, bridges and app_queue, as events.

Theory of operation:

1. The model is synchronous and pure: it never sleeps and never reads a clock. Time is the
   ``Timeline``'s virtual ``now``; every delay is a timer. Randomness comes from one seeded
   ``random.Random``. The same actions at the same virtual times give the same events.
2. Every AMI event goes through ``Pbx.event(name, category, headers)``, which adds ``Privilege`` and
   ``Timestamp`` and hands the finished header list to ``sink`` (the server fans it out to sessions).
3. The dialplan is the one of the PBX the shared transcripts were recorded on:

   - ``callers,<ani>``: answers, waits PATIENCE seconds, hangs up (the caller).
   - ``inbound,<queue>``: ``Queue(<queue>,t,,,<maxwait>)``.
   - ``inbound,hold``: answers, raises ``UserEvent(CtiWaiting)``, waits for a Redirect.
   - ``deliver,<agent>``: ``Dial(Local/<agent>@agents/n,...)``; in the sample dialplan
     (config/asterisk/extensions.conf, ``Scenario.dialplan``) a failed ring raises
     ``UserEvent(CtiDeliveryFailed)`` and the caller goes back to hold (CtiWaiting again).
   - ``agents,<agent>``: the simulated phone (``cti.sim.agents``).
   - ``pstn,<number>``: the simulated public network (``cti.sim.pstn``).
   - ``dialer-connect,<number>``: ``Queue(sales,t,,,CWAIT)``, then ``UserEvent(DialerDrop)``.
   - ``Originate Application=ChanSpy``: a supervisor's phone spies on a channel (``cti.sim.chanspy``).

4. A *leg* is the channel that runs that dialplan (a Local ``;1`` or a trunk channel) together with
   the outside party (the Local ``;2``: the caller, or the called number). An *agent leg* is one
   ``Local/<ext>@agents`` pair dialled by a leg, from a queue or from ``deliver``.
5. Event order inside each flow follows the real transcripts (see tests/sim/test_transcripts.py).
"""

from __future__ import annotations

from cti.sim.agent_legs import AgentLegs
from cti.sim.app_queue import AppQueue
from cti.sim.channels import RING
from cti.sim.chanspy import ChanSpyApp
from cti.sim.consult import Consult
from cti.sim.dialplan import Dialplan
from cti.sim.legs import ActionError, AgentLeg, Leg
from cti.sim.originate import Originate


class Pbx(ChanSpyApp, Originate, Dialplan, AgentLegs, AppQueue, Consult):
    """The whole model: each part is a class of its own module, all sharing ``PbxCore``'s state."""


__all__ = ["RING", "ActionError", "AgentLeg", "Leg", "Pbx"]
