"""`mlxpsub script.sh`: submit every sweep point of a batch script as its own job.

The script is parsed, never executed on the head node. For each python command of an mlxp
app in it, `mlxpsub` runs that command here with `hydra/launcher=mlxp_<scheduler>` and
`--multirun`; Hydra expands the sweep and the launcher renders and submits one job per point.
The script's directives, and its other lines (module load, conda activate, export, cd ...) in
their original order, go into every job script of that command. The launcher receives them
through a JSON file named by the `MLXPSUB_SPEC` environment variable.

A python command that is not an mlxp app (MLXP's tutorial ends with `python read.py`) is not
run here either: it becomes one job of its own, submitted after the jobs of the lines before
it, that the scheduler starts once they have all ended (SLURM `--dependency=afterany`, Grid
Engine `-hold_jid`, OAR `-a`, PBS/Moab `depend=afterany`, LSF `-w ended(...)`). Its script and
output go to `<parent log>/.mlxpsub/`. A script is an app when it decorates a function with
`launch` from `mlxp` or `hydra.main` (see `is_mlxp_app`).
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mlxp_core.cli.batchscript import (
    BatchScript,
    BatchScriptError,
    PythonCommand,
    read_batch_script,
)
from mlxp_core.compat.coinstall import conflict
from mlxp_core.record import info as run_info
from mlxp_core.schedulers import Scheduler, get_scheduler
from mlxp_core.schedulers.commands import SubmitError, check_submit_command, submit
from mlxp_core.schedulers.render import JobSpec, render_script
from mlxp_core.submit import handoff
from mlxp_core.submit.report import failure_lines, print_jobs

_MULTIRUN = {"-m", "--multirun"}


def _directive_texts(script: BatchScript, scheduler: Scheduler) -> List[str]:
    return [d.text if d.prefix == scheduler.directive else f"{d.prefix} {d.text}"
            for d in script.directives]


def _spec(script: BatchScript, scheduler: Scheduler, k: int, report: str,
          sweep: Optional[dict] = None) -> handoff.HandOff:
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
        sweep_id=(sweep or {}).get("id"),
        sweep_command=(sweep or {}).get("command"),
    )


def head_command(command: PythonCommand, scheduler: Scheduler, options: argparse.Namespace,
                 mlxp_options: Optional[Dict[str, str]] = None) -> List[str]:
    """The command run here: the script's own, with this interpreter and the mlxp launcher
    (`mlxp_options`: the script's `#MLXP key=value` lines, as `hydra.launcher.key=value`)."""
    target = ["-m", command.module] if command.module else [str(command.script)]
    args = [a for a in command.args if a not in _MULTIRUN]
    extra = [f"hydra/launcher=mlxp_{scheduler.name}"]
    extra += [f"hydra.launcher.{key}={value}" for key, value in (mlxp_options or {}).items()]
    if options.dry_run:
        extra.append("hydra.launcher.dry_run=true")
    if options.array:
        extra.append("hydra.launcher.array=true")
    if options.max_running is not None:
        extra.append(f"hydra.launcher.array_parallelism={options.max_running}")
    if options.wait:
        extra.append("hydra.launcher.wait=true")
    return [sys.executable, *command.interpreter_flags, *target, "--multirun", *args, *extra]


def _decorator_names(tree: ast.AST) -> set[str]:
    """Names under which the script can reach `mlxp.launch` / `hydra.main`."""
    names = {"mlxp.launch", "hydra.main", "mlxp.launcher.launch"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("mlxp", "mlxp.launcher", "hydra"):
            for alias in node.names:
                if alias.name in ("launch", "main"):
                    names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("mlxp", "hydra") and alias.asname:
                    names |= {f"{alias.asname}.launch", f"{alias.asname}.main"}
    return names


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def is_mlxp_app(command: PythonCommand) -> bool:
    """Whether the command runs an mlxp (or Hydra) app: its script decorates a function with
    `launch` from mlxp or `hydra.main`. Read, never run. A module (`python -m`) or a script
    that cannot be read counts as an app (its own command then reports the problem)."""
    if command.script is None or command.workdir is None:
        return True
    path = Path(command.workdir, command.script)
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return True
    names = _decorator_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any(_dotted(d) in names for d in node.decorator_list):
                return True
    return False


def _after_job(script: BatchScript, scheduler: Scheduler, k: int, options: argparse.Namespace,
               after: Sequence[str], out_dir: Path) -> handoff.Submitted:
    """Submit command `k` (not an mlxp app) as one job that waits for the jobs `after`."""
    command = script.commands[k]
    if command.workdir is None:
        raise BatchScriptError(
            f"{script.path}:{command.line}: cannot tell which directory this command runs in "
            "(a 'cd' before it uses a variable or is inside a block); use 'cd /absolute/path'"
        )
    target = ["-m", command.module] if command.module else [str(command.script)]
    before, teardown = script.template_for(k)
    directives = _directive_texts(script, scheduler)
    dependency = scheduler.dependency_directives(list(after))
    directives += dependency
    if after and not dependency:
        print(f"mlxpsub: warning: {scheduler.name} has no job dependencies: line "
              f"{command.line} may start before the jobs it follows have ended", file=sys.stderr)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    base = out_dir / f"{stamp}_{os.getpid()}_line{command.line}"
    spec = JobSpec(
        job_name=f"mlxpsub_line{command.line}",
        stdout=f"{base}.stdout", stderr=f"{base}.stderr",
        workdir=command.workdir,
        command=[*command.launcher, command.interpreter, *command.interpreter_flags, *target,
                 *command.args],
        directives=directives, setup=before, teardown=teardown,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = Path(f"{base}.sh")
    path.write_text(render_script(scheduler, spec), encoding="utf-8")
    waits = f" after {len(after)} jobs" if after else ""
    print(f"mlxpsub: line {command.line}: {command.raw.strip()} (not an mlxp app: one job"
          f"{waits})", flush=True)
    if options.dry_run:
        return handoff.Submitted(None, None, None, str(path))
    try:
        job_id = submit(scheduler, str(path), command.workdir)
    except SubmitError as exc:
        return handoff.Submitted(None, None, f"line {command.line}: {exc}", str(path))
    return handoff.Submitted(None, job_id, None, str(path))


def _run_command(script: BatchScript, scheduler: Scheduler, k: int,
                 options: argparse.Namespace, tmp: Path) -> List[handoff.Submitted]:
    command = script.commands[k]
    if command.workdir is None:
        raise BatchScriptError(
            f"{script.path}:{command.line}: cannot tell which directory this command runs in "
            "(a 'cd' before it uses a variable or is inside a block); use 'cd /absolute/path'"
        )
    report = tmp / f"report-{k}.json"
    spec = _spec(script, scheduler, k, str(report), getattr(options, "sweep", None))
    env = {**os.environ, **handoff.write_spec(tmp / f"spec-{k}.json", spec)}
    argv = head_command(command, scheduler, options, script.options)
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
    clash = conflict()
    if clash:
        print(f"mlxpsub: error: {clash}", file=sys.stderr)
        return 2
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
    # every command of the script is one sweep: `mlxp status/cancel/rerun <sweep id>`
    typed = shlex.join(["mlxpsub", *(sys.argv[1:] if argv is None else argv)])
    args.sweep = run_info.sweep_record(run_info.new_sweep_id(), typed)
    jobs: List[handoff.Submitted] = []
    after_jobs: List[handoff.Submitted] = []
    with tempfile.TemporaryDirectory(prefix="mlxpsub-") as tmp:
        for k in range(len(script.commands)):
            try:
                if is_mlxp_app(script.commands[k]):
                    jobs += _run_command(script, scheduler, k, args, Path(tmp))
                    continue
                ids = [j.job_id for j in [*jobs, *after_jobs] if j.job_id]
                runs = [Path(j.run_dir).parent for j in jobs if j.run_dir]
                out_dir = (runs[-1] if runs else Path(script.base_dir)) / ".mlxpsub"
                after_jobs.append(_after_job(script, scheduler, k, args, ids, out_dir))
            except BatchScriptError as exc:
                print(f"mlxpsub: error: {exc}", file=sys.stderr)
                return 2
    failed = [j for j in [*jobs, *after_jobs] if j.error]
    verb = "rendered" if args.dry_run else "submitted"
    total = len(jobs) + len(after_jobs)
    print(f"mlxpsub: {total - len(failed)} jobs {verb}, {len(failed)} failed "
          f"({scheduler.name}, {len(script.commands)} commands); sweep {args.sweep['id']}")
    print_jobs((j.log_id, j.run_dir, j.job_id, j.error) for j in jobs)
    for j in after_jobs:
        state = "SUBMIT_FAILED" if j.error else f"job {j.job_id}" if j.job_id else ""
        print(f"  after the others: {j.run_dir} {state}".rstrip())
    for line in failure_lines(j.error or "" for j in failed):
        print(f"mlxpsub: failed: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
