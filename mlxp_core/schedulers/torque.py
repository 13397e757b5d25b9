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
    JobTable,
    Resources,
    Scheduler,
    format_hms,
    format_mem,
    unsupported,
)

MEM_UNITS = ("kb", "mb", "gb", "tb")


def nodes_spec(res: Resources) -> str:
    """``nodes=N[:ppn=C][:gpus=G]`` or '' when none of the three is requested."""
    cpus, gpus = res.node_cpus, res.node_gpus  # per node: per task x tasks_per_node
    if not (res.nodes or cpus or gpus):
        return ""
    spec = f"nodes={res.nodes or 1}"
    if cpus:
        spec += f":ppn={cpus}"
    if gpus:
        spec += f":gpus={gpus}"
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
    if res.signal_before_s and not res.time_s:
        raise unsupported("torque", "signal_before_walltime_s", "TORQUE/PBS sends no signal "
                          "before the walltime; mlxp's own timer does, at 'time' minus N: set "
                          "resource 'time' too")
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
    dependency_format="-W depend=afterany:{ids}",
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
    # `qstat -t`: one line per array task; `C` (completed) jobs stay listed a while
    list_command=("qstat", "-t", "-u", "{user}"),
    list_table=JobTable("whitespace", (
        ("own_id", "Job ID"), ("name", "Name"), ("user", "User"), ("elapsed", "Time Use"),
        ("state", "S"), ("queue", "Queue")), skip=2),
    id_pattern=r"(?P<job_id>\d+)(?:\[(?P<task>\d+)\])?",
    task_id_format="{job}[{task}]",  # qdel takes it without the server (qstat may cut it)
    pending_states=("Q", "H", "W", "T"),
    running_states=("R", "E", "S"),
    end_reasons=((r".", "COMPLETED"),),  # qstat shows no exit status: the run says more
)
