"""`mlxpsub script.sh`: submit every sweep point of a batch script as its own job.

The script is parsed, never executed on the head node. For each python command in it,
`mlxpsub` runs that command here with `hydra/launcher=mlxp_<scheduler>` and `--multirun`;
Hydra expands the sweep and the launcher renders and submits one job per point. The script's
directives, and its other lines (module load, conda activate, export, cd ...) in their
original order, go into every job script of that command. The launcher receives them through
a JSON file named by the `MLXPSUB_SPEC` environment variable.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from mlxp_core.cli.batchscript import (
    BatchScript,
    BatchScriptError,
    PythonCommand,
    read_batch_script,
)
from mlxp_core.schedulers import Scheduler, get_scheduler
from mlxp_core.schedulers.commands import SubmitError, check_submit_command
from mlxp_core.submit import handoff
from mlxp_core.submit.report import failure_lines, print_jobs

_MULTIRUN = {"-m", "--multirun"}


def _directive_texts(script: BatchScript, scheduler: Scheduler) -> List[str]:
    return [d.text if d.prefix == scheduler.directive else f"{d.prefix} {d.text}"
            for d in script.directives]


def _spec(script: BatchScript, scheduler: Scheduler, k: int, report: str) -> handoff.HandOff:
    command = script.commands[k]
    before, after = script.template_for(k)
    return handoff.HandOff(
        directives=_directive_texts(script, scheduler),
        setup=before,
        teardown=after,
        launcher_words=list(command.launcher),
        python=command.interpreter,
        interpreter_flags=list(command.interpreter_flags),
        report=report,
    )


def head_command(command: PythonCommand, scheduler: Scheduler, options: argparse.Namespace
                 ) -> List[str]:
    """The command run here: the script's own, with this interpreter and the mlxp launcher."""
    target = ["-m", command.module] if command.module else [str(command.script)]
    args = [a for a in command.args if a not in _MULTIRUN]
    extra = [f"hydra/launcher=mlxp_{scheduler.name}"]
    if options.dry_run:
        extra.append("hydra.launcher.dry_run=true")
    if options.array:
        extra.append("hydra.launcher.array=true")
    if options.max_running is not None:
        extra.append(f"hydra.launcher.array_parallelism={options.max_running}")
    if options.wait:
        extra.append("hydra.launcher.wait=true")
    return [sys.executable, *command.interpreter_flags, *target, "--multirun", *args, *extra]


def _run_command(script: BatchScript, scheduler: Scheduler, k: int,
                 options: argparse.Namespace, tmp: Path) -> List[handoff.Submitted]:
    command = script.commands[k]
    if command.workdir is None:
        raise BatchScriptError(
            f"{script.path}:{command.line}: cannot tell which directory this command runs in "
            "(a 'cd' before it uses a variable or is inside a block); use 'cd /absolute/path'"
        )
    report = tmp / f"report-{k}.json"
    env = {**os.environ,
           **handoff.write_spec(tmp / f"spec-{k}.json", _spec(script, scheduler, k, str(report)))}
    argv = head_command(command, scheduler, options)
    print(f"mlxpsub: line {command.line}: {command.raw.strip()}", flush=True)
    proc = subprocess.run(argv, cwd=command.workdir, env=env, check=False)
    jobs = handoff.read_report(report)
    if proc.returncode != 0 and not any(j.error for j in jobs):
        jobs.append(handoff.Submitted(
            None, None, f"command at line {command.line} exited with {proc.returncode}"))
    return jobs


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlxpsub", description="Submit every sweep point of a batch script as a job.")
    parser.add_argument("script", help="batch script with #SBATCH/#OAR/#PBS/#$/#MSUB/#BSUB lines")
    parser.add_argument("--dry-run", action="store_true",
                        help="render every job script into its run directory, submit nothing")
    parser.add_argument("--array", action="store_true",
                        help="submit each command's sweep as one job array")
    parser.add_argument("--max-running", type=int, metavar="N",
                        help="with --array: at most N tasks running at once")
    parser.add_argument("--wait", action="store_true",
                        help="wait until every job has ended; exit non-zero if one failed")
    args = parser.parse_args(argv)
    if args.max_running is not None and (not args.array or args.max_running < 1):
        parser.error("--max-running N needs --array and N >= 1")
    try:
        script = read_batch_script(args.script)
        scheduler = get_scheduler(script.scheduler)
        if not args.dry_run:
            check_submit_command(scheduler)
    except (BatchScriptError, SubmitError) as exc:
        print(f"mlxpsub: error: {exc}", file=sys.stderr)
        return 2
    for warning in script.warnings:
        print(f"mlxpsub: warning: {warning}", file=sys.stderr)
    jobs: List[handoff.Submitted] = []
    with tempfile.TemporaryDirectory(prefix="mlxpsub-") as tmp:
        for k in range(len(script.commands)):
            try:
                jobs += _run_command(script, scheduler, k, args, Path(tmp))
            except BatchScriptError as exc:
                print(f"mlxpsub: error: {exc}", file=sys.stderr)
                return 2
    failed = [j for j in jobs if j.error]
    verb = "rendered" if args.dry_run else "submitted"
    print(f"mlxpsub: {len(jobs) - len(failed)} jobs {verb}, {len(failed)} failed "
          f"({scheduler.name}, {len(script.commands)} commands)")
    print_jobs((j.log_id, j.run_dir, j.job_id, j.error) for j in jobs)
    for line in failure_lines(j.error or "" for j in failed):
        print(f"mlxpsub: failed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
