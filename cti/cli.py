"""The `cti` command. Each subcommand lives with the code it drives and registers itself here.

A subcommand module exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed ``argparse.Namespace`` and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

# subcommand modules, in the order `cti --help` lists them
SUBCOMMANDS = (
    "cti.app",  # cti run
    "cti.demo",  # cti demo
    "cti.sim.cli",  # cti sim
    "cti.asterisk.replay",  # cti replay
    "cti.reports.cli",  # cti report
    "cti.simulate.cli",  # cti simulate
    "cti.store.cli",  # cti store ...
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti", description="Call-center CTI service for Asterisk.")
    from cti import __version__

    parser.add_argument("--version", action="version", version=f"cti {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
