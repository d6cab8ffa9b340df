import io
import json
import logging

from cti.telemetry import Family, Registry, setup_logging


def test_metrics_render_in_the_prometheus_text_format() -> None:
    reg = Registry()
    reg.register(
        lambda: [Family("ami_connected", "gauge", "link up").add(1, server="pbx1").add(0, server='b"\\')]
    )
    reg.register(lambda: [Family("pops_sent_total", "counter", "pops").add(12)])
    text = reg.render()
    assert text.splitlines() == [
        "# HELP cti_ami_connected link up",
        "# TYPE cti_ami_connected gauge",
        'cti_ami_connected{server="pbx1"} 1',
        'cti_ami_connected{server="b\\"\\\\"} 0',
        "# HELP cti_pops_sent_total pops",
        "# TYPE cti_pops_sent_total counter",
        "cti_pops_sent_total 12",
    ]


def test_samples_of_one_family_from_several_collectors_are_merged_under_one_header() -> None:
    reg = Registry()
    reg.register(lambda: [Family("x", "gauge", "h").add(1, s="a")])
    reg.register(lambda: [Family("x", "gauge", "h").add(2, s="b")])
    assert reg.render().count("# TYPE cti_x gauge") == 1
    assert 'cti_x{s="b"} 2' in reg.render()


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
