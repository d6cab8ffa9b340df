"""Call blending applied (cti.delivery.dialer.DialerService.apply_blend): the live inbound figures move a
campaign's blended agents between inbound and outbound work, and only agents on outbound work are
counted by its pacing and offered its previews."""

from __future__ import annotations

from collections.abc import Sequence

from cti.config import CampaignConfig, DialerConfig
from cti.core.events import AgentState
from cti.core.ids import AgentId, QueueName
from cti.delivery.dialer import AttemptRecord, BoardFigures, DialerService, Lead, ProgressivePacer
from cti.screenpop.live import LiveBoard
from tests.delivery.test_service import Harness, state_event


class Figures:
    """InboundFigures set by the test: the inbound idle count and service level of each queue."""

    def __init__(self) -> None:
        self.idle_by: dict[str, int] = {}
        self.level_by: dict[str, float | None] = {}

    def idle(self, queue: str) -> int:
        return self.idle_by.get(queue, 0)

    def service_level(self, queue: str) -> float | None:
        return self.level_by.get(queue)


class NoLeads:
    async def next_leads(self, campaign: str, n: int, now: float) -> Sequence[Lead]:
        return []


class Sink:
    async def record(self, attempt: AttemptRecord) -> None:
        pass


def dialer(h: Harness, figures: Figures) -> tuple[DialerService, CampaignConfig]:
    campaign = CampaignConfig(name="renewals", queue="sales", blended=["Alice"])
    cfg = DialerConfig(enabled=True, blend_idle_above=2, blend_service_level_below=0.8, campaign=[campaign])
    d = DialerService(h.service, cfg, NoLeads(), Sink(), ProgressivePacer())
    d.inbound = figures
    return d, d.campaigns["renewals"]


async def test_spare_inbound_agents_send_the_blended_agent_outbound_a_low_service_level_back() -> None:
    h = Harness()
    h.agent("Alice", "1001", {"sales": 5})
    h.agent("Bob", "1002", {"sales": 5})
    figures = Figures()
    d, c = dialer(h, figures)
    figures.idle_by["sales"] = 2  # not above blend_idle_above: Alice stays on inbound work
    d.apply_blend()
    assert d.outbound_side == {"Alice": False} and d._idle_agents(c) == 1  # Bob only
    figures.idle_by["sales"] = 4  # two spare: the blended agent goes outbound
    d.apply_blend()
    assert d.outbound_side == {"Alice": True} and d._idle_agents(c) == 2
    assert d.stats.blend_moves == 1
    d.apply_blend()  # she is no longer idle on inbound (4 - 1 = 3 > 2): she stays, no move
    assert d.outbound_side == {"Alice": True} and d.stats.blend_moves == 1
    figures.level_by["sales"] = 0.5  # inbound service level below 0.8: back to inbound
    d.apply_blend()
    assert d.outbound_side == {"Alice": False} and d._idle_agents(c) == 1
    assert d.stats.blend_moves == 2


async def test_without_inbound_figures_nothing_moves() -> None:
    h = Harness()
    h.agent("Alice", "1001", {"sales": 5})
    d, c = dialer(h, Figures())
    d.inbound = None
    d.apply_blend()
    assert d.outbound_side == {} and d._idle_agents(c) == 0  # a blended agent starts on inbound work


def test_the_board_figures_are_the_live_boards_idle_members_and_service_level() -> None:
    board = LiveBoard(lambda queue: 20.0)
    board.apply(state_event("Alice", "1001", AgentState.AVAILABLE, 1000.0))
    board.apply(state_event("Bob", "1002", AgentState.AVAILABLE, 1000.0))
    board.apply(state_event("Carol", "1003", AgentState.PAUSED, 1000.0))
    figures = BoardFigures(board)
    assert figures.idle("sales") == 2
    assert figures.service_level("sales") is None  # no call today yet
    assert (figures.idle("nowhere"), figures.service_level("nowhere")) == (0, None)
    assert QueueName("nowhere") not in board.queues  # asking does not invent a queue
    assert AgentId("Carol") in board.agents
