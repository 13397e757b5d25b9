"""`mlxp rerun [--failed] [--interrupted] [--missing] [PARENT_LOG] SWEEP|QUERY|IDS`.

Submits again exactly the runs that did not complete, into their own run directories, with
the overrides and launcher settings they were submitted with: `--failed` (FAILED, also jobs
the scheduler killed for time or memory), `--interrupted` (INTERRUPTED: cancelled, preempted),
`--missing` (SUBMIT_FAILED: refused by the scheduler, e.g. a submit limit). Without any of the
three: all three. A run the scheduler still lists as queued or running is never resubmitted.
The runs go as ONE array per scheduler and launcher settings (split at the cluster's array
limit); each resumes in its directory: attempt + 1, first start time kept, the task's last
checkpoint loaded. `--mem` / `--time` raise the resources of the rerun (a job killed for
memory asks for more); `--dry-run` lists what would go and submits nothing.
"""

from __future__ import annotations

import argparse
from typing import Any, List

from mlxp_core.cli import selection as sel


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rerun", help="resubmit the failed / interrupted / never submitted runs of a sweep",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sel.add_arguments(parser, "a sweep id (or `last`), run ids (3,5-9) or a Reader query")
    parser.add_argument("--failed", action="store_true", help="runs that ended FAILED")
    parser.add_argument("--interrupted", action="store_true",
                        help="runs that ended INTERRUPTED")
    parser.add_argument("--missing", action="store_true",
                        help="runs the scheduler refused (SUBMIT_FAILED)")
    parser.add_argument("--mem", help="memory for the rerun, e.g. 8G (replaces the recorded)")
    parser.add_argument("--time", dest="walltime", metavar="TIME",
                        help="walltime for the rerun, HH:MM:SS (replaces the recorded)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be submitted")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from mlxp_core.schedulers.base import JobSpecError
    from mlxp_core.submit.operate import raised_resources, rerun

    kinds: List[str] = [k for k in ("failed", "interrupted", "missing") if getattr(args, k)]
    kinds = kinds or ["failed", "interrupted", "missing"]
    try:
        raised_resources(args.mem, args.walltime)
        if not args.where or (len(args.where) == 1 and sel.split_where(args.where)[1] == ""):
            raise sel.SelectionError("name what to rerun: a sweep id (or `last`), run ids or "
                                     "a query (`mlxp status` lists the sweeps)")
        found = sel.select(args.where)
        done = rerun(found.parent, found.runs, kinds, mem=args.mem, walltime=args.walltime,
                     dry_run=args.dry_run)
    except (sel.SelectionError, JobSpecError) as exc:
        return sel.fail("rerun", str(exc))
    total = sum(len(g["runs"]) for g in done.groups)
    verb = "would resubmit" if args.dry_run else "resubmitted"
    print(f"mlxp rerun: {verb} {total} runs ({' + '.join(kinds)}) as {len(done.groups)} "
          f"array job(s)")
    for group in done.groups:
        ids = sel.ranges(group["runs"])
        res = " ".join(f"{k}={v}" for k, v in sorted(group["resources"].items()))
        job = f" job {group['job_id']}" if group["job_id"] else ""
        print(f"  {group['scheduler']}{job}: runs {ids}" + (f" ({res})" if res else ""))
    for log_id, why in done.skipped:
        print(f"  run {log_id} not resubmitted: {why}")
    for failure in done.failures:
        print(f"mlxp rerun: error: {failure}")
    return 1 if done.failures else 0
