"""`mlxp cancel [PARENT_LOG] SWEEP|QUERY|IDS`: cancel the jobs of those runs, in one command.

One listing call says which of the runs are still queued or running; then ONE cancel command
per scheduler (`scancel`, `qdel`, `oardel` ...) gets all their ids, a whole array by its array
id when every live task of it is selected. The runs end INTERRUPTED: those whose job had not
started are recorded so at once (they will never run), running ones record their own
interruption when the scheduler signals them (OAR: its end notification records it).
"""

from __future__ import annotations

import argparse
from typing import Any

from mlxp_core.cli import selection as sel


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cancel", help="cancel the queued and running jobs of a sweep (one command)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sel.add_arguments(parser, "a sweep id (or `last`), run ids (3,5-9) or a Reader query")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from mlxp_core.submit.operate import cancel

    try:
        if not args.where or (len(args.where) == 1 and sel.split_where(args.where)[1] == ""):
            raise sel.SelectionError("name what to cancel: a sweep id, run ids or a query "
                                     "(`mlxp status` lists the sweeps)")
        found = sel.select(args.where)
    except sel.SelectionError as exc:
        return sel.fail("cancel", str(exc))
    done = cancel(found.parent, found.runs)
    for command in done.commands:
        print(f"mlxp cancel: {command}")
    print(f"mlxp cancel: {len(found.runs)} runs selected: {len(done.not_started)} not started "
          f"(recorded INTERRUPTED), {len(done.running)} running (they record their end), "
          f"{len(done.already_ended)} already ended, {len(done.unknown)} unknown to the "
          f"scheduler")
    if done.unknown:
        print(f"mlxp cancel: not cancelled (no queued or running job found): runs "
              f"{sel.ranges(done.unknown)}")
    for failure in done.failures:
        print(f"mlxp cancel: error: {failure}")
    return 1 if done.failures else 0
