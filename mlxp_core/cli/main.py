"""`mlxp <command>`: one console script, one small module per subcommand.

Each subcommand module has `register(subparsers)`, which adds its parser and sets
`func=<callable(argparse.Namespace) -> int>` on it. Subcommand modules import their heavy
dependencies (pandas, matplotlib, Hydra) inside `func`, so `mlxp --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional, Sequence

from mlxp_core.compat.coinstall import conflict

# the subcommands, in the order `mlxp --help` lists them
COMMANDS = ("status", "cancel", "rerun", "logs", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlxp", description="Look at, operate and report on mlxp runs and sweeps.")
    parser.add_argument("-v", "--verbose", action="store_true", help="diagnostic logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"mlxp_core.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"mlxp_core.cli.{name}":
                raise
            continue  # a subcommand not built yet
        module.register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    clash = conflict()
    if clash:
        print(f"mlxp: error: {clash}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(args_list)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
