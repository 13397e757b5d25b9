"""OAR: ``oarsub -S /abs/script`` prints admission-rule lines, then ``OAR_JOB_ID=123``.

Notes:

* OAR does not copy the script: the path given to ``oarsub -S`` is executed when the job
  starts, so it must still exist, be executable and readable by the job's user then.
* Resources must be on ONE ``-l`` line (several ``-l`` lines make a "moldable" job): the generic
  resources are rendered as ``-l /nodes=N/core=C,walltime=H:M:S``; a user ``-l`` directive
  together with generated resources is refused. With GPUs the hierarchy is
  ``/nodes=N/gpu=G/core=C/G`` (OAR counts cores per GPU), so ``cpus`` must be a multiple of
  ``gpus``.
* Memory has no standard OAR resource: use a site property directive such as
  ``-p "memnode>=4096"`` instead.
* Arrays: ``--array N`` numbers the tasks 1..N (``OAR_ARRAY_INDEX``); each task has its own job
  id, the array id is the first one. There is no concurrency limit.
* The job's environment is not the submitter's (it starts through ssh): export what it needs.
* Output paths expand ``%jobid%`` and ``%jobname%``.
"""

from __future__ import annotations

from mlxp_core.schedulers.base import (
    ArraySyntax,
    JobEnv,
    JobSpecError,
    Resources,
    Scheduler,
    format_hms,
    unsupported,
)


def _hierarchy(res: Resources) -> str:
    """``/nodes=N[/gpu=G][/core=C]`` or '' when no node, GPU or CPU count is requested."""
    if not (res.nodes or res.cpus or res.gpus):
        return ""
    parts = [f"/nodes={res.nodes or 1}"]
    cores = res.cpus
    if res.gpus:
        parts.append(f"/gpu={res.gpus}")
        if cores:
            if cores % res.gpus:
                raise JobSpecError(f"scheduler 'oar' counts cores per GPU: resource 'cpus' "
                                   f"({cores}) must be a multiple of 'gpus' ({res.gpus})")
            cores //= res.gpus
    if cores:
        parts.append(f"/core={cores}")
    return "".join(parts)


def resource_lines(res: Resources) -> list[str]:
    if res.mem_kib:
        raise unsupported("oar", "mem", "add a property directive instead, e.g. "
                                        "'-p \"memnode>=4096\"' (site dependent)")
    lines = []
    if res.partition:
        lines.append(f"-q {res.partition}")
    if res.account:
        lines.append(f"--project {res.account}")
    spec = [part for part in (_hierarchy(res),) if part]
    if res.time_s:
        spec.append(f"walltime={format_hms(res.time_s)}")
    if spec:
        lines.append("-l " + ",".join(spec))
    return lines


OAR = Scheduler(
    name="oar",
    directive="#OAR",
    submit_command=("oarsub", "-S"),
    cancel_command=("oardel",),
    job_id_pattern=r"^OAR_JOB_ID=(?P<job_id>\d+)\s*$",
    job_name_format="-n {}",
    stdout_format="-O {}",
    stderr_format="-E {}",
    resource_lines=resource_lines,
    env=JobEnv(
        job_id=("OAR_JOB_ID", "OAR_JOBID"),
        array_job_id=("OAR_ARRAY_ID", "OAR_ARRAYID"),
        array_task=("OAR_ARRAY_INDEX", "OAR_ARRAYINDEX"),
    ),
    array=ArraySyntax(format="--array {count}", min_index=1, start=1,
                      tasks_listed_by_own_id=True),
    script_must_be_executable=True,
    single_line_option="-l",
    job_id_placeholder="%jobid%",
    active_command=("oarstat",),
    # oardel SIGKILLs the job with no catchable signal first; OAR records the request
    job_info_command=("oarstat", "-J", "-f", "-j", "{id}"),
    cancelled_pattern=r"FRAG_JOB_REQUEST",
)
