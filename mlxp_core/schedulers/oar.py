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
* ``oardel`` (and the walltime) SIGKILL the job with no catchable signal first, so the job
  cannot record its end. A single job's script therefore carries
  ``#OAR --notify [ERROR]exec:<python> -m mlxp_core.endnotice oar <run dir>``: OAR runs it,
  as the job's user, on the host that submitted the job when the job ends in state Error,
  and it records the run INTERRUPTED (deleted) or FAILED (see :mod:`mlxp_core.endnotice`).
  An array script carries ``... endnotice oar <parent>/.arrays/<first>-<last>.runs.json``
  instead (the array's run list): every task has the notification, OAR runs it with the
  task's own job id, and the recorder finds the task's run from its ``array_index``
  (``oarstat -J -f``; 1-based, the ``submit.array_task_index`` mlxp records).
  A ``--notify`` directive of the user replaces it; paths with characters other than
  ``[a-zA-Z0-9_./-]`` (oarsub refuses them there) go without it.
* ``-t idempotent``: OAR resubmits, under a NEW job id, a job that ran more than 60 s and
  exited 99 (not one killed by ``oardel``); the new job runs the same script, so the run
  resumes in its directory with ``attempt: 2``. ``info.yaml`` keeps ``submit.job_id`` (what
  was submitted) and records the new id as ``scheduler.job_id``.
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
    # so OAR itself tells mlxp when a job ended in state Error (see mlxp_core/endnotice.py);
    # oarsub refuses an exec notification with other characters than these
    end_notice_format="--notify [ERROR]exec:{command}",
    end_notice_chars=r"[a-zA-Z0-9_./ -]+",
)
