"""`mlxp logs [PARENT_LOG] ID [--stderr] [--follow]`: a run's job output.

Prints `<run dir>/log.stdout` (or `log.stderr`), where every job script mlxp renders sends
the job's output (array tasks too: the array script redirects each task into its run
directory). Earlier attempts' output, kept by `mlxp rerun`, is in `log.stdout.<n>`.
`--follow` prints what is appended until the run has ended.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional

from mlxp_core.cli import selection as sel

POLL_S = 0.5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("logs", help="print a run's job output (stdout or stderr)",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("where", nargs="+", metavar="[PARENT_LOG] ID",
                        help=f"the logs directory (default {sel.DEFAULT_PARENT}) and a run id")
    parser.add_argument("--stderr", action="store_true", help="the job's stderr")
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing what is appended until the run has ended")
    parser.set_defaults(func=main)


def _ended(run_dir: Path) -> bool:
    from mlxp_core.record import info as run_info

    return run_info.read_status(run_dir) in run_info.TERMINAL


def main(args: argparse.Namespace) -> int:
    from mlxp_core.record import info as run_info
    from mlxp_core.record.layout import STDERR, STDOUT

    if len(args.where) > 2 or not sel.IDS.fullmatch(args.where[-1]) or "," in args.where[-1] \
            or "-" in args.where[-1]:
        return sel.fail("logs", f"expected [PARENT_LOG] ID (one run id), got "
                                f"{' '.join(args.where)}")
    parent = Path(args.where[0] if len(args.where) == 2 else sel.DEFAULT_PARENT)
    run_dir = parent / args.where[-1]
    if not run_dir.is_dir():
        return sel.fail("logs", f"no run {args.where[-1]} in {parent}")
    path = run_dir / (STDERR if args.stderr else STDOUT)
    info = run_info.read_info(run_dir)
    if not path.is_file():
        submit = info.get("submit") or {}
        if not submit:
            return sel.fail("logs", f"run {run_dir.name} ran in the foreground (not submitted): "
                                    "its output went to the terminal it ran in")
        if not args.follow:
            print(f"mlxp logs: run {run_dir.name} has no output yet (status "
                  f"{info.get('status')}, {submit.get('scheduler')} job "
                  f"{submit.get('job_id')}); --follow waits for it", file=sys.stderr)
            return 0
    offset = 0
    out = sys.stdout.buffer
    try:
        while True:
            offset = _copy(path, offset, out)
            if not args.follow or (_ended(run_dir) and _copy(path, offset, None) == offset):
                return 0
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        return 130


def _copy(path: Path, offset: int, out: Optional[Any]) -> int:
    """Write `path` from `offset` to `out` (None: only measure); the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    if out is not None and data:
        out.write(data)
        out.flush()
    return offset + len(data)
