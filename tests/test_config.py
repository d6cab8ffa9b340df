from pathlib import Path

import pytest

from cti.config import load_config, parse_config
from cti.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_default_configuration_loads() -> None:
    cfg = load_config(ROOT / "config" / "cti.toml")
    assert cfg.asterisk[0].port == 5038
    assert cfg.reports.threshold("anything") == 20.0


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[web]\nprot = 1\n", "web.prot", "unknown key"),
        ("[web]\nport = 'x'\n", "web.port", "expected int"),
        ("[web]\nport = 70000\n", "web.port", "out of range"),
        ("[[asterisk]]\nauth = 'rsa'\n", "asterisk[0].auth", "md5"),
        ("[store]\nurl = 'nowhere'\n", "store.url", "SQLAlchemy URL"),
        ("[reports.service_level]\nsales = 'fast'\n", "reports.service_level.sales", "number"),
        ("[web\n", "<syntax>", "invalid TOML"),
        ("[store]\ndefault_country = 'XX'\n", "store.default_country", "unknown region"),
        ("[reports]\nsuccess_dispositions = 'sale'\n", "reports.success_dispositions", "expected a list"),
        ("[reports]\nsuccess_dispositions = ['sale', ' ']\n", "reports.success_dispositions[1]", "empty"),
        ("[[disposition]]\ncode = 'a'\n[[disposition]]\noutcome = 'win'\n", "disposition[1].code", "letters"),
        (
            "[[disposition]]\ncode = 'a'\noutcome = 'win'\n",
            "disposition[0].outcome",
            "resolution, sale or none",
        ),
        ("[[disposition]]\ncode = 'a'\nqueues = ['x;y']\n", "disposition[0].queues", "not a queue name"),
        ("[[disposition]]\ncode = 'a'\ncolour = 'red'\n", "disposition[0].colour", "unknown key"),
        ("[redis]\nurl = 'redis://h/0'\n", "redis.command_key", "required with [redis] url"),
        ("[redis]\nurl = 'redis://h/0'\ncommand_key = 'short'\n", "redis.command_key", "16 characters"),
        (
            "[routing.queues.sales]\noverflow_if_ewt_above = 300\noverflow_to = 'gold'\n",
            "routing.queues.sales.overflow_to",
            "'gold' is not a queue",
        ),
        ("[routing.queues.sales]\noverflow_to = 'sales'\n", "routing.queues.sales.overflow_to", "itself"),
        (
            "[routing.queues.sales]\n[routing.queues.b]\noverflow_to = 'sales'\n",
            "routing.queues.b.overflow_if_ewt_above",
            "needs both",
        ),
        (
            "[routing.queues.sales]\noffer_callback_above = -1\n",
            "routing.queues.sales.offer_callback_above",
            ">= 0",
        ),
        (
            "[routing.queues.sales]\noffer_callback_above = 'long'\n",
            "routing.queues.sales.offer_callback_above",
            "number",
        ),
    ],
)
def test_config_errors_name_the_file_the_key_and_the_problem(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "site.toml")
    assert e.value.path == "site.toml"
    assert e.value.key == key
    assert words in str(e.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


def test_per_queue_service_level_overrides_the_default() -> None:
    cfg = parse_config("[reports]\nservice_level_seconds = 15\n[reports.service_level]\nsupport = 30\n")
    assert cfg.reports.threshold("support") == 30.0
    assert cfg.reports.threshold("sales") == 15.0


def test_wrapup_seconds_are_read_per_queue_and_must_not_be_negative() -> None:
    cfg = parse_config("[[asterisk]]\n[asterisk.wrapup_seconds]\nsales = 10\n")
    assert cfg.asterisk[0].wrapup_seconds == {"sales": 10.0}
    with pytest.raises(ConfigError) as e:
        parse_config("[[asterisk]]\n[asterisk.wrapup_seconds]\nsales = -1\n", "x.toml")
    assert e.value.key == "asterisk[0].wrapup_seconds.sales"


def test_the_ewt_settings_of_a_queue_reach_its_policy() -> None:
    text = (
        "[routing.queues.general]\n[routing.queues.sales]\noffer_callback_above = 120\n"
        "overflow_if_ewt_above = 300\noverflow_to = 'general'\n"
    )
    sales = parse_config(text).routing.policies()["sales"]
    assert (sales.offer_callback_above, sales.overflow_if_ewt_above, sales.overflow_to) == (
        120,
        300,
        "general",
    )
