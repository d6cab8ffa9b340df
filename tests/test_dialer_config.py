"""``[dialer]`` and ``[[dialer.campaign]]``: bad settings get an error naming the key."""

from __future__ import annotations

import pytest

from cti.config import parse_config
from cti.core.errors import ConfigError

QUEUES = '[routing]\n[routing.queues.sales]\nskills = ["sales:1"]\n'


def dialer(campaign: str, queue: str = "sales") -> str:
    head = f'[dialer]\nenabled = true\n[[dialer.campaign]]\nname = "c"\nqueue = "{queue}"\n'
    return QUEUES + head + campaign


def test_a_good_campaign() -> None:
    cfg = parse_config(dialer('mode = "predictive"\nmax_lines = 4\namd_machine = "message"\n'))
    (c,) = cfg.dialer.campaign
    assert (c.mode, c.max_lines, c.amd_machine, c.queue) == ("predictive", 4, "message", "sales")
    assert (c.answer_rate, c.talk_seconds) == (0.2, 120.0)  # the pacer's priors


@pytest.mark.parametrize(
    ("campaign", "key"),
    [
        ('mode = "fast"\n', "dialer.campaign[0].mode"),
        ('channel = "PJSIP/trunk"\n', "dialer.campaign[0].channel"),
        ("max_lines = 0\n", "dialer.campaign[0].max_lines"),
        ("ring_timeout = 10\n", "dialer.campaign[0].ring_timeout"),
        ('amd_machine = "sing"\n', "dialer.campaign[0].amd_machine"),
        ("answer_rate = 0\n", "dialer.campaign[0].answer_rate"),
        ("answer_rate = 1.5\n", "dialer.campaign[0].answer_rate"),
        ("talk_seconds = 0\n", "dialer.campaign[0].talk_seconds"),
        ('[[dialer.campaign]]\nname = "c"\nqueue = "sales"\n', "dialer.campaign[1].name"),
    ],
)
def test_bad_campaigns(campaign: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(dialer(campaign))
    assert key in str(e.value)


def test_the_queue_must_be_routed() -> None:
    with pytest.raises(ConfigError, match=r"dialer\.campaign\[0\]\.queue"):
        parse_config(dialer("", queue="nowhere"))


def test_agentless_needs_no_queue() -> None:
    text = QUEUES + '[dialer]\n[[dialer.campaign]]\nname = "a"\nmode = "agentless"\n'
    assert parse_config(text).dialer.campaign[0].queue == ""


def test_the_preview_timeout_is_a_positive_number_of_seconds() -> None:
    assert parse_config(dialer('mode = "preview"\n')).dialer.preview_seconds == 30.0
    text = dialer('mode = "preview"\n').replace("enabled = true\n", "enabled = true\npreview_seconds = 0\n")
    with pytest.raises(ConfigError, match=r"dialer\.preview_seconds"):
        parse_config(text)


def test_recycling_rules_and_dispositions_are_read() -> None:
    cfg = parse_config(
        dialer(
            "recycling = { busy = { delay = 600, max = 3 }, no-answer = { delay = 3600, max = 2 } }\n"
            '[[dialer.campaign.disposition]]\ncode = "sale"\nsale = true\n'
            '[[dialer.campaign.disposition]]\ncode = "call back"\nfinal = false\ncallback = true\n'
        )
    )
    (c,) = cfg.dialer.campaign
    assert (c.recycling["busy"].delay, c.recycling["busy"].max, c.recycling["no-answer"].max) == (600, 3, 2)
    assert [(d.code, d.final, d.sale, d.callback) for d in c.disposition] == [
        ("sale", True, True, False),
        ("call back", False, False, True),
    ]


@pytest.mark.parametrize(
    ("campaign", "key", "reason"),
    [
        (
            "recycling = { bsy = { delay = 1, max = 2 } }\n",
            "dialer.campaign[0].recycling.bsy",
            "not an outcome",
        ),
        ("recycling = { busy = { delay = -1, max = 2 } }\n", "recycling.busy", "delay must be >= 0"),
        ("recycling = { busy = { delay = 1, max = 0 } }\n", "recycling.busy", "max must be"),
        ("recycling = { busy = { delay = 1 } }\n", "recycling.busy", "max must be"),
        ("recycling = { busy = { delay = 1, max = 2, min = 1 } }\n", "recycling.busy.min", "unknown key"),
        ("recycling = { busy = 3 }\n", "recycling.busy", "expected a table"),
        ('[[dialer.campaign.disposition]]\ncode = ""\n', "disposition[0].code", "1 to 64"),
        (
            '[[dialer.campaign.disposition]]\ncode = "x"\n[[dialer.campaign.disposition]]\ncode = "x"\n',
            "disposition[1].code",
            "twice",
        ),
        ('[[dialer.campaign.disposition]]\ncode = "x"\nsold = true\n', "disposition[0].sold", "unknown key"),
    ],
)
def test_bad_recycling_and_dispositions_name_the_key_and_the_reason(
    campaign: str, key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(dialer(campaign))
    assert key in str(e.value) and reason in str(e.value)
