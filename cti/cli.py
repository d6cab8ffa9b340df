"""The `cti` command. Each subcommand lives with the code it drives and registers itself here.

A subcommand module exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed ``argparse.Namespace`` and returning an exit code.

Start-up: a subcommand's module is imported only when that subcommand runs (``cti replay`` never loads
SQLAlchemy, websockets or the daemon). ``cti --help`` lists the subcommands from ``SUBCOMMANDS`` alone,
imports none of them, and ``cti replay --help`` imports the replay module only
(tests/test_cli_startup.py checks which modules each one imports).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

# (subcommand, its module, its one-line help), in the order `cti --help` lists them; the help is the
# one the module's register() gives (tests/test_cli_startup.py keeps the two the same)
SUBCOMMANDS = (
    ("run", "cti.app", "run the daemon (AMI, screen pops, consoles, store writer)"),
    ("demo", "cti.demo", "run the simulated Asterisk, the daemon and the consoles on SQLite"),
    ("sim", "cti.sim.cli", "run the simulated Asterisk (AMI server with callers and agents)"),
    (
        "replay",
        "cti.asterisk.replay",
        "replay a recorded AMI stream: call journeys as JSON lines, or per-queue figures",
    ),
    ("report", "cti.reports.cli", "call-center reports over a date range, from the store"),
    (
        "simulate",
        "cti.simulate.cli",
        "seeded synthetic traffic through the routing core: service level, ASA, occupancy",
    ),
    (
        "staffing",
        "cti.staffing.cli",
        "Erlang C / Erlang A staffing: a calculator and a forecast from history",
    ),
    ("store", "cti.store.cli", "the customer store: migrate, seed, import, export, tiers"),
    (
        "campaign",
        "cti.store.campaign_cli",
        "outbound campaigns: the compliance report of each abandon-rate window",
    ),
    (
        "dnc",
        "cti.store.dnc_cli",
        "do-not-call lists: import a national list, remove numbers, list the sources",
    ),
)


def chosen(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: the chosen subcommand's own parser (its module imported), the others as
    names and help only. Without ``argv``, every subcommand's module is imported and registered."""
    parser = argparse.ArgumentParser(prog="cti", description="Call-center CTI service for Asterisk.")
    from cti import __version__

    parser.add_argument("--version", action="version", version=f"cti {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    command = None if argv is None else chosen(argv)
    for name, module_name, help_text in SUBCOMMANDS:
        if argv is not None and name != command:
            sub.add_parser(name, help=help_text, add_help=False)  # listed; never parsed
            continue
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
