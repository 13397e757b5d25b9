"""TORQUE / PBS (registered as ``torque``, alias ``pbs``): ``qsub script`` prints the job id,
e.g. ``123.server.domain`` (arrays ``123[].server``); some sites print ``Notice:`` lines before
it, so the id is read from the last line.

Notes:

* The job id is kept whole (``123.server.domain``): it is what ``PBS_JOBID`` holds inside the job
  and what ``qdel`` expects.
* Every job gets ``-V`` (export the submitter's environment, as SLURM does).
* Resources use TORQUE's syntax: ``-l nodes=N:ppn=C[:gpus=G]``, ``-l mem=4gb`` (whole job),
  ``-l walltime=HH:MM:SS``. OpenPBS / PBS Pro spell resources ``-l select=...`` and arrays
  ``-J``: pass raw directives there.
* Arrays: ``-t first-last%limit``; ``PBS_ARRAYID`` is the task index, a task's id is
  ``123[4].server``. TORQUE appends ``-<index>`` to each task's output file names itself; there
  is no output-path placeholder.
* A job starts in ``$HOME``: the rendered script ``cd``-s to its working directory.
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

MEM_UNITS = ("kb", "mb", "gb", "tb")


def nodes_spec(res: Resources) -> str:
    """``nodes=N[:ppn=C][:gpus=G]`` or '' when none of the three is requested."""
    if not (res.nodes or res.cpus or res.gpus):
        return ""
    spec = f"nodes={res.nodes or 1}"
    if res.cpus:
        spec += f":ppn={res.cpus}"
    if res.gpus:
        spec += f":gpus={res.gpus}"
    return spec


def resource_lines(res: Resources) -> list[str]:
    lines = []
    if res.partition:
        lines.append(f"-q {res.partition}")
    if res.account:
        lines.append(f"-A {res.account}")
    nodes = nodes_spec(res)
    if nodes:
        lines.append(f"-l {nodes}")
    if res.mem_kib:
        lines.append(f"-l mem={format_mem(res.mem_kib, MEM_UNITS)}")
    if res.time_s:
        lines.append(f"-l walltime={format_hms(res.time_s)}")
    return lines


TORQUE = Scheduler(
    name="torque",
    directive="#PBS",
    submit_command=("qsub",),
    cancel_command=("qdel",),
    job_id_pattern=r"^(?P<job_id>\d+(?:\[\d*\])?(?:\.[A-Za-z0-9_.-]+)?)\s*\Z",
    job_name_format="-N {}",
    stdout_format="-o {}",
    stderr_format="-e {}",
    resource_lines=resource_lines,
    env=JobEnv(
        job_id=("PBS_JOBID",),
        array_job_id=("PBS_ARRAY_ID",),
        array_task=("PBS_ARRAYID", "PBS_ARRAY_INDEX"),
    ),
    array=ArraySyntax(format="-t {first}-{last}{limit}", limit_format="%{max}", min_index=0,
                      id_brackets="[]"),
    default_directives=("-V",),
    aliases=("pbs",),
    active_command=("qstat",),
    finished_states=("C",),
)
