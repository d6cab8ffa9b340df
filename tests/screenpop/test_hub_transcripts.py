"""The hub fed by the real call tracker over the real AMI transcripts: every pop precedes its updates."""

import json
from pathlib import Path

import pytest

from cti.asterisk.ami import AmiDecoder
from cti.asterisk.calls import CallTracker
from cti.core.events import AgentRinging
from cti.core.ids import AgentId
from cti.screenpop.hub import Client, Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.tokens import Identity

SCENARIOS = [
    "01-inbound-answered",
    "03-ring-no-answer",
    "05-cti-redirect",
    "06-blind-transfer",
    "mixed-seed1",
]


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_agent_gets_its_pop_before_any_update_of_that_call(transcripts: Path, name: str) -> None:
    decoder = AmiDecoder()
    tracker = CallTracker("pbx1")
    hub = Hub(board=LiveBoard(lambda q: 20.0), client_buffer=100_000)
    sup = Client(Identity("super", "supervisor", None, 1e12), 1_000_000)
    hub.attach(sup)
    agents: dict[str, Client] = {}
    rung: list[AgentRinging] = []
    for msg in decoder.receive_data((transcripts / f"{name}.ami").read_bytes()):
        events = tracker.feed(msg)
        for e in events:
            if isinstance(e, AgentRinging):
                rung.append(e)
                if e.agent not in agents:
                    agents[e.agent] = Client(
                        Identity(e.agent.lower(), "agent", AgentId(e.agent), 1e12), 100_000
                    )
                    hub.attach(agents[e.agent])
        hub.on_events(events)
    assert rung, "the transcript rings at least one agent"
    for agent, client in agents.items():
        popped: set[str] = set()
        while not client.queue.empty():
            m = json.loads(client.queue.get_nowait())
            if m["type"] == "screenpop":
                assert m["agent"] == agent
                popped.add(m["call"]["linkedid"])
            elif m["type"] == "call":
                assert m["linkedid"] in popped, f"{agent} got {m['event']} of {m['linkedid']} before its pop"
        assert popped
    assert hub.pops_sent == len(rung)
    assert sup.queue.qsize() == hub.seq  # the supervisor saw everything
