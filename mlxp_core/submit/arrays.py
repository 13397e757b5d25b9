"""`hydra.launcher.array=true`: the whole sweep as ONE array submission.

Every point still gets its own run directory with its own `script.sh` (the same body a single
job would run, without directives). One array script, `<parent_log>/.arrays/<first>-<last>.sh`,
carries the directives; each array task finds its run directory from its task index and runs
that directory's script with its output in the directory's `log.stdout` / `log.stderr`.
The head records, per run, the array's job id and the task index in `info.yaml`.

On a scheduler with an end notification (OAR), the array's run list is also written next to
its script, `<first>-<last>.runs.json` (`{"first": <first task index>, "runs": [<run dir>,
...]}`): the array script asks OAR to run `python -m mlxp_core.endnotice oar <that file>` when
a task ends in error, and the recorder finds the task's run directory in it from the task's
index (see :mod:`mlxp_core.schedulers.oar_notice`).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, TypeVar

from mlxp_core.errors import UsageAbort
from mlxp_core.record.atomic import write_text_atomic
from mlxp_core.record.layout import ARRAY_DIR, RUN_LIST_SUFFIX, write_run_list
from mlxp_core.schedulers import Scheduler
from mlxp_core.schedulers.render import JobSpec, array_dispatch_lines, render_array_script


def task_range(scheduler: Scheduler, count: int) -> tuple[int, int]:
    """First and last task index of an array of `count` tasks on this scheduler."""
    syntax = scheduler.array
    if syntax is None:
        raise UsageAbort(
            f"hydra.launcher.array: {scheduler.name} has no job arrays; remove array=true"
        )
    first = syntax.start if syntax.start is not None else syntax.min_index
    return first, first + count - 1


T = TypeVar("T")


def chunks(items: Sequence[T], most: Optional[int]) -> List[Sequence[T]]:
    """`items` in consecutive chunks of at most `most` (None: one chunk).

    The cluster's array limit (`schedulers.commands.array_limit`): SLURM's MaxArraySize caps
    the task INDEX, so `--array=1001-2000` is refused as well as `--array=0-1999`; every chunk
    is therefore submitted as its own array numbered from the scheduler's first index
    (`0-N`), each task finding its run in that chunk's own run list (the offset is the
    chunk's position in the sweep). Grid Engine's `max_aj_tasks` caps the count: same split.
    """
    if not items:
        return []
    if most is None or most >= len(items):
        return [items]
    return [items[k:k + most] for k in range(0, len(items), most)]


def write_array_script(scheduler: Scheduler, template: JobSpec, run_dirs: List[Path],
                       log_ids: List[int], limit: int | None, name: Optional[str] = None) -> Path:
    """Render and write the array script next to the run directories; return its path.

    `name`: the file name of the script and run list in `.arrays/` (default
    `<first log id>-<last log id>`; reruns name theirs so as not to replace the original's).
    """
    first, last = task_range(scheduler, len(run_dirs))
    directory = run_dirs[0].parent / ARRAY_DIR
    directory.mkdir(exist_ok=True)
    name = name or f"{log_ids[0]}-{log_ids[-1]}"
    out = directory / f"{name}.task-{scheduler.array_index_placeholder or 'all'}"
    run_list: Optional[Path] = None
    if scheduler.end_notice_format:
        run_list = directory / f"{name}{RUN_LIST_SUFFIX}"
        write_run_list(run_list, first, run_dirs)
    spec = JobSpec(
        job_name=f"{template.job_name.rsplit('/', 1)[0]}/{name}",
        stdout=f"{out}.stdout", stderr=f"{out}.stderr", workdir=template.workdir,
        command=["true"], directives=template.directives, resources=template.resources,
        array=(first, last, limit), end_notice_target=None if run_list is None else str(run_list),
    )
    path = directory / f"{name}.sh"
    body = array_dispatch_lines(scheduler, run_dirs, first)
    write_text_atomic(path, render_array_script(scheduler, spec, body))
    path.chmod(0o755)
    return path


def submitted_info(job_id: str | None, first: int, k: int, script: Path, when: str) -> dict:
    """The `submit` record of task `k` of an array submitted at `when`."""
    return {"job_id": job_id, "array_task_index": first + k, "array_script": str(script),
            "submit_time": when}
