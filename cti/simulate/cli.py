"""``cti simulate``: seeded synthetic traffic through the daemon's routing core, and the figures.

    cti simulate --config cti.toml --traffic FILE [--hours H] [--seed N] [--json]
                 [--dispatcher cti|ringall|leastrecent|rrmemory|fewestcalls|linear]
    cti simulate --campaign FILE [--hours H] [--json]   (the dialer's pacing: cti/simulate/campaign.py)

The queues' ``QueuePolicy``s come from the config's ``[routing]`` section (``policies_from_config``),
the service-level thresholds from ``[reports]``; the traffic file is described in docs/simulate.md.
A bad file is an error naming the file and the key (exit 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from cti.config import Config, load_config
from cti.core.errors import ConfigError
from cti.routing.policy import QueuePolicy


def policies_from_config(cfg: Config) -> dict[str, QueuePolicy]:
    """The routing policies of ``cfg`` (its ``[routing.queues]``), exactly as the daemon builds them."""
    return cfg.routing.policies(cfg.path)


def run_campaign(args: argparse.Namespace) -> int:
    from cti.simulate.campaign import human as campaign_human
    from cti.simulate.campaign import parse_campaign, simulate_campaign

    try:
        try:
            text = Path(args.campaign).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(args.campaign, "<file>", "no such file") from None
        except UnicodeDecodeError:
            raise ConfigError(args.campaign, "<file>", "not UTF-8 text") from None
        settings = parse_campaign(text, args.campaign)
    except ConfigError as e:
        print(f"cti simulate: {e}", file=sys.stderr)
        return 2
    if args.hours is not None:
        settings["hours"] = args.hours
    figures = simulate_campaign(settings)
    print(json.dumps(figures, sort_keys=True) if args.json else campaign_human(figures))
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "campaign", None):
        return run_campaign(args)
    if not args.config or not args.traffic:
        print("cti simulate: --config and --traffic are required (or --campaign FILE)", file=sys.stderr)
        return 2
    from cti.routing.simulate.dispatchers import RouterDispatcher
    from cti.routing.simulate.engine import Dispatcher, simulate
    from cti.simulate.app_queue import APP_QUEUE_STRATEGIES, AppQueueDispatcher
    from cti.simulate.traffic_file import parse_traffic

    try:
        cfg = load_config(args.config)
        policies = policies_from_config(cfg)
        tpath = args.traffic
        try:
            text = Path(tpath).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(tpath, "<file>", "no such file") from None
        except UnicodeDecodeError:
            raise ConfigError(tpath, "<file>", "not UTF-8 text") from None
        traffic = parse_traffic(text, tpath)
        if args.hours is not None:
            if not args.hours > 0:
                raise ConfigError("--hours", "<argument>", f"must be > 0, got {args.hours}")
            traffic = dataclasses.replace(traffic, hours=args.hours)
        for i, ct in enumerate(traffic.call_types):
            if ct.queue not in policies:
                known = ", ".join(sorted(policies)) or "none"
                raise ConfigError(
                    tpath,
                    f"call_types[{i}].queue",
                    f"queue {ct.queue!r} has no [routing.queues.{ct.queue}] in {cfg.path} (known: {known})",
                )
    except ConfigError as e:
        print(f"cti simulate: {e}", file=sys.stderr)
        return 2
    seed = traffic.seed if args.seed is None else args.seed
    dispatcher: Dispatcher
    if args.dispatcher == "cti":
        dispatcher = RouterDispatcher(policies, traffic.unpause_after, announce=True)
    else:
        assert args.dispatcher in APP_QUEUE_STRATEGIES
        needs = {q: tuple(n.skill for n in p.skills) for q, p in policies.items()}
        for ct in traffic.call_types:
            extra = tuple(n.skill for n in ct.needs.skills if n.skill not in needs[ct.queue])
            needs[ct.queue] = needs[ct.queue] + extra
        dispatcher = AppQueueDispatcher(args.dispatcher, needs, traffic.app_queue, seed)
    thresholds = {q: cfg.reports.threshold(q) for q in policies}
    result = simulate(traffic, dispatcher, seed)
    figures: dict[str, Any] = {
        "hours": traffic.hours,
        "seed": seed,
        **result.figures(thresholds, cfg.reports.service_level_seconds),
    }
    if args.dispatcher == "cti" and any(p.overflow_to for p in policies.values()):
        # the same traffic with the overflow by EWT off: what the overflow changed
        plain = {
            q: dataclasses.replace(p, overflow_to=None, overflow_if_ewt_above=0.0)
            for q, p in policies.items()
        }
        without = simulate(traffic, RouterDispatcher(plain, traffic.unpause_after, announce=True), seed)
        off = without.figures(thresholds, cfg.reports.service_level_seconds)
        figures["overflow"]["with"] = _totals(figures)
        figures["overflow"]["without"] = _totals(off)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        print(human(figures))
    return 0


def _totals(f: dict[str, Any]) -> dict[str, Any]:
    """Waits and abandons, in all and by queue (a with/without-overflow comparison)."""
    keys = ("offered", "answered", "abandoned", "abandon_rate", "asa", "service_level")
    return {
        "total": {k: f["total"][k] for k in keys},
        "queues": {q: {k: r[k] for k in keys} for q, r in sorted(f["queues"].items())},
    }


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:5.1f}%"


def _sec(v: float | None) -> str:
    return "-" if v is None else f"{v:6.1f}s"


def human(f: dict[str, Any]) -> str:
    lines = [f"dispatcher {f['dispatcher']}, {f['hours']} h, seed {f['seed']}"]
    head = f"{'':24} {'offered':>8} {'answered':>8} {'abandoned':>9} {'SL':>7} {'ASA':>8}"
    for title, rows in (("queue", f["queues"]), ("call type", f["call_types"]), ("", {"total": f["total"]})):
        lines.append(head.replace(" " * 24, f"{title:24}", 1))
        for name, r in sorted(rows.items()):
            lines.append(
                f"{name:24} {r['offered']:8} {r['answered']:8} {r['abandoned']:9} "
                f"{_pct(r['service_level']):>7} {_sec(r['asa']):>8}"
            )
    lines.append(f"{'agent group':24} {'agents':>8} {'occupancy':>9} {'spread':>7} {'stdev':>7}")
    for name, g in sorted({**f["groups"], "all": f["agents"]}.items()):
        lines.append(
            f"{name:24} {g['agents']:8} {_pct(g['occupancy']):>9} {_pct(g['occupancy_spread']):>7} "
            f"{_pct(g['occupancy_stdev']):>7}"
        )
    e = f["ewt"]
    if e["ewt_calls"]:
        lines.append(
            f"wait announced at entry ({e['ewt_calls']} answered calls, "
            f"mean wait {_sec(e['mean_wait_s']).strip()}): "
            f"mean absolute error cti {_sec(e['ewt_mae_s']).strip()}, "
            f"app_queue's holdtime {_sec(e['ewt_mae_app_queue_s']).strip()}"
        )
    if e.get("announcements"):
        lines.append(
            f"periodic announcements ({e['announcements']}, mean wait left "
            f"{_sec(e['mean_remaining_s']).strip()}): mean absolute error against the wait left "
            f"cti {_sec(e['announced_mae_s']).strip()}, "
            f"app_queue's holdtime - waited {_sec(e['announced_mae_app_queue_s']).strip()}"
        )
    o = f.get("overflow") or {}
    if o.get("overflowed") or "with" in o:
        lines.append(
            f"overflow by EWT: {o['overflowed']} calls ({o['overflowed_at_entry']} at entry, "
            f"{o['overflowed_while_waiting']} while waiting)"
        )
        for name in ("with", "without"):
            if name in o:
                t = o[name]["total"]
                lines.append(
                    f"  {name} overflow: answered {t['answered']}, abandoned {t['abandoned']} "
                    f"({_pct(t['abandon_rate']).strip()}), ASA {_sec(t['asa']).strip()}, "
                    f"SL {_pct(t['service_level']).strip()}"
                )
    if o.get("callback_offers"):
        lines.append(
            f"callback offers: {o['callback_offers']} to {o['calls_offered_a_callback']} calls "
            "(offer_callback_above, offer_callback_every)"
        )
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="seeded synthetic traffic through the routing core: service level, ASA, occupancy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", help="cti.toml ([routing], [reports])")
    p.add_argument("--traffic", metavar="FILE", help="the traffic TOML (docs/simulate.md)")
    p.add_argument(
        "--campaign",
        metavar="FILE",
        help="a [campaign] TOML: dialling strategies offline (cti/simulate/campaign.py)",
    )
    p.add_argument("--hours", type=float, help="simulated hours of arrivals (default: the file's)")
    p.add_argument("--seed", type=int, help="seed of the traffic and the phones (default: the file's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--dispatcher",
        default="cti",
        choices=("cti", "ringall", "leastrecent", "rrmemory", "fewestcalls", "linear"),
        help="cti's router (default) or an app_queue strategy, for comparison",
    )
    p.set_defaults(func=run)
