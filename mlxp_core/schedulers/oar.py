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
    JobTable,
    Resources,
    Scheduler,
    format_hms,
    unsupported,
)


def _hierarchy(res: Resources) -> str:
    """``/nodes=N[/gpu=G][/core=C]`` or '' when no node, GPU or CPU count is requested."""
    cores, gpus = res.node_cpus, res.node_gpus  # per node: per task x tasks_per_node
    if not (res.nodes or cores or gpus):
        return ""
    parts = [f"/nodes={res.nodes or 1}"]
    if gpus:
        parts.append(f"/gpu={gpus}")
        if cores:
            if cores % gpus:
                raise JobSpecError(f"scheduler 'oar' counts cores per GPU: the cores of a node "
                                   f"({cores}: resource 'cpus' x 'tasks_per_node') must be a "
                                   f"multiple of its GPUs ({gpus})")
            cores //= gpus
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
    if res.signal_before_s:
        # SIGUSR2 (OAR's checkpoint signal) N s before the walltime; an idempotent job that
        # ran more than 60 s and exits 99 is resubmitted by OAR (a new job id)
        lines += [f"--checkpoint {res.signal_before_s}", "-t idempotent"]
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
    # one -a (--anterior) line per job: OAR starts it once they have ended
    dependency_format="-a {ids}", dependency_per_job=True,
    resource_lines=resource_lines,
    warning_signal="SIGUSR2",
    requeue_exit_status=99,
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
    # current jobs (not ended ones); every array task is a job of its own
    list_command=("oarstat", "-J", "-u", "{user}"),
    list_table=JobTable("json", (
        ("own_id", "Job_Id"), ("job_id", "array_id"), ("task", "array_index"),
        ("state", "state"), ("reason", "message"), ("node", "assigned_network_address"),
        ("start", "startTime"))),
    acct_command=("oarstat", "-J", "-f"),
    acct_id_option="-j",
    acct_table=JobTable("json", (
        ("own_id", "Job_Id"), ("job_id", "array_id"), ("task", "array_index"),
        ("state", "state"), ("exit_code", "exit_code"), ("start", "startTime"),
        ("end", "stopTime"), ("time_limit", "walltime"), ("events", "events"),
        ("node", "assigned_network_address"))),
    pending_states=("Waiting", "Hold", "toLaunch", "toAckReservation", "Launching"),
    running_states=("Running", "Suspended", "Resuming", "Finishing"),
    # an ended job's state text: "<state> exit <code> <event types>"; the walltime also
    # shows FRAG_JOB_REQUEST, so WALLTIME is looked for first
    end_reasons=((r"WALLTIME", "TIMEOUT"), (r"FRAG_JOB_REQUEST", "CANCELLED"),
                 (r"^Terminated exit 0\b", "COMPLETED"), (r".", "FAILED")),
)
