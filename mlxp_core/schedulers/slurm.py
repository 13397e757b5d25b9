"""SLURM: ``sbatch script`` prints ``Submitted batch job 123``.

Notes: ``#SBATCH`` lines are read up to the first command line; values may be double-quoted and
an unquoted ``#`` starts a comment. ``--mem`` is per node. Task indexes of ``--array`` may start
at 0. Output paths expand ``%j`` (job id), ``%A``/``%a`` (array job id / task index), ``%x``
(job name); a literal ``%`` must be written ``%%``.
"""

from __future__ import annotations

from mlxp_core.schedulers.base import (
    ArraySyntax,
    JobEnv,
    Resources,
    Scheduler,
    format_hms,
    format_mem,
)


def resource_lines(res: Resources) -> list[str]:
    lines = []
    if res.partition:
        lines.append(f"--partition={res.partition}")
    if res.account:
        lines.append(f"--account={res.account}")
    if res.nodes:
        lines.append(f"--nodes={res.nodes}")
    if res.cpus:
        lines.append(f"--cpus-per-task={res.cpus}")
    if res.gpus:
        lines.append(f"--gpus={res.gpus}")
    if res.mem_kib:
        lines.append(f"--mem={format_mem(res.mem_kib)}")
    if res.time_s:
        lines.append(f"--time={format_hms(res.time_s)}")
    return lines


SLURM = Scheduler(
    name="slurm",
    directive="#SBATCH",
    submit_command=("sbatch",),
    cancel_command=("scancel",),
    job_id_pattern=r"Submitted batch job (?P<job_id>\d+)",
    job_name_format="--job-name={}",
    stdout_format="--output={}",
    stderr_format="--error={}",
    resource_lines=resource_lines,
    env=JobEnv(
        job_id=("SLURM_JOB_ID", "SLURM_JOBID"),
        array_job_id=("SLURM_ARRAY_JOB_ID",),
        array_task=("SLURM_ARRAY_TASK_ID",),
    ),
    array=ArraySyntax(format="--array={first}-{last}{limit}", limit_format="%{max}",
                      min_index=0),
    directive_quoting=True,
    job_name_forbidden='"',
    job_id_placeholder="%j",
    active_command=("squeue", "-h", "-o", "%i"),
    job_info_command=("scontrol", "show", "job", "{id}"),
    cancelled_pattern=r"JobState=CANCELLED",
    array_index_placeholder="%a",
)
