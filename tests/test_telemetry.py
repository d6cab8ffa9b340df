import io
import json
import logging
from collections.abc import Iterable

from prometheus_client import generate_latest

from cti.telemetry import Merged, Metric, counter, gauge, new_registry, setup_logging


class Link:
    def __init__(self, server: str, up: bool) -> None:
        self.server, self.up = server, up

    def collect(self) -> Iterable[Metric]:
        yield gauge("ami_connected", "link up", self.up, server=self.server)


class Pops:
    def collect(self) -> Iterable[Metric]:
        yield counter("pops_sent_total", "pops", 12)


def test_metrics_render_in_the_prometheus_text_format_with_the_cti_prefix() -> None:
    reg = new_registry()
    reg.register(Merged(lambda: [Link("pbx1", True), Link('b"\\', False)]))
    reg.register(Pops())
    assert generate_latest(reg).decode().splitlines() == [
        "# HELP cti_ami_connected link up",
        "# TYPE cti_ami_connected gauge",
        'cti_ami_connected{server="pbx1"} 1.0',
        'cti_ami_connected{server="b\\"\\\\"} 0.0',
        "# HELP cti_pops_sent_total pops",
        "# TYPE cti_pops_sent_total counter",
        "cti_pops_sent_total 12.0",
    ]


def test_samples_of_one_family_from_several_components_are_merged_under_one_header() -> None:
    reg = new_registry()
    reg.register(Merged(lambda: [Link("a", True), Link("b", True)]))
    text = generate_latest(reg).decode()
    assert text.count("# TYPE cti_ami_connected gauge") == 1
    assert 'cti_ami_connected{server="b"} 1.0' in text


def test_each_daemon_has_its_own_registry() -> None:
    one, two = new_registry(), new_registry()
    one.register(Pops())
    assert "cti_pops_sent_total" in generate_latest(one).decode()
    assert generate_latest(two) == b""


def test_json_logs_are_one_object_per_line_with_extra_fields() -> None:
    out = io.StringIO()
    setup_logging("info", "json", out)
    try:
        logging.getLogger("cti.test").info("hello %s", "张伟", extra={"server": "pbx1"})
        logging.getLogger("cti.test").debug("hidden")
    finally:
        setup_logging("warning", "text")
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["msg"] == "hello 张伟" and record["server"] == "pbx1"
    assert record["level"] == "info" and record["logger"] == "cti.test"
