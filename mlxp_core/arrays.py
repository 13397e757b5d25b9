"""`hydra.launcher.array=true`: the whole sweep as ONE array submission.

Every point still gets its own run directory with its own `script.sh` (the same body a single
job would run, without directives). One array script, `<parent_log>/.arrays/<first>-<last>.sh`,
carries the directives; each array task finds its run directory from its task index and runs
that directory's script with its output in the directory's `log.stdout` / `log.stderr`.
The head records, per run, the array's job id and the task index in `info.yaml`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import List

from mlxp_core import rundir
from mlxp_core.errors import UsageAbort
from mlxp_core.render import JobSpec, render_array_script
from mlxp_core.schedulers import Scheduler

ARRAY_DIR = ".arrays"


def task_range(scheduler: Scheduler, count: int) -> tuple[int, int]:
    """First and last task index of an array of `count` tasks on this scheduler."""
    syntax = scheduler.array
    if syntax is None:
        raise UsageAbort(
            f"hydra.launcher.array: {scheduler.name} has no job arrays; remove array=true"
        )
    first = syntax.start if syntax.start is not None else syntax.min_index
    return first, first + count - 1


def task_index_expr(scheduler: Scheduler) -> str:
    """Bash expression of the task index (the first variable the scheduler sets)."""
    names = scheduler.env.array_task
    expr = ""
    for name in reversed(names):
        expr = f"${{{name}:-{expr}}}" if expr else f"${{{name}}}"
    return expr


def dispatch_lines(scheduler: Scheduler, run_dirs: List[Path], first: int) -> List[str]:
    """The array script's body: pick this task's run directory and run its script."""
    runs = " ".join(shlex.quote(str(d)) for d in run_dirs)
    return [
        f"runs=({runs})",
        f"task={task_index_expr(scheduler)}",
        f'run="${{runs[$((task - {first}))]}}"',
        'if [ -z "$run" ]; then echo "mlxp: no run directory for array task $task" >&2; '
        "exit 2; fi",
        'exec bash "$run/script.sh" >"$run/log.stdout" 2>"$run/log.stderr"',
    ]


def write_array_script(scheduler: Scheduler, template: JobSpec, run_dirs: List[Path],
                       log_ids: List[int], limit: int | None) -> Path:
    """Render and write the array script next to the run directories; return its path."""
    first, last = task_range(scheduler, len(run_dirs))
    directory = run_dirs[0].parent / ARRAY_DIR
    directory.mkdir(exist_ok=True)
    name = f"{log_ids[0]}-{log_ids[-1]}"
    out = directory / f"{name}.task-{scheduler.array_index_placeholder or 'all'}"
    spec = JobSpec(
        job_name=f"{template.job_name.rsplit('/', 1)[0]}/{name}",
        stdout=f"{out}.stdout", stderr=f"{out}.stderr", workdir=template.workdir,
        command=["true"], directives=template.directives, resources=template.resources,
        array=(first, last, limit),
    )
    path = directory / f"{name}.sh"
    rundir.write_text_atomic(
        path, render_array_script(scheduler, spec, dispatch_lines(scheduler, run_dirs, first)))
    path.chmod(0o755)
    return path


def submitted_info(job_id: str | None, first: int, k: int, script: Path, when: str) -> dict:
    """The `submit` record of task `k` of an array submitted at `when`."""
    return {"job_id": job_id, "array_task_index": first + k, "array_script": str(script),
            "submit_time": when}
