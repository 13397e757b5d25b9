"""Grid Engine (SGE / Son of Grid Engine / Univa): ``qsub script`` prints
``Your job 123 ("name") has been submitted`` (arrays: ``Your job-array 123.1-4:1 ("name") ...``).

Notes:

* Every job gets ``-S /bin/bash`` (else the queue's shell, often csh, runs the script) and ``-V``
  (export the submitter's environment, as SLURM does; without it the job's ``PATH`` is minimal).
* ``cpus`` uses the parallel environment ``smp`` (``-pe smp N``); its name is site dependent
  (``qconf -spl``): pass a raw ``-pe <name> N`` directive instead when it differs.
* ``h_vmem`` is a limit PER SLOT: the generic ``mem`` (memory of the job) is divided by
  ``cpus`` (rounded up to the MiB), so ``mem='8G', cpus=4`` renders ``-l h_vmem=2G``.
* GPUs are a site-defined consumable, rendered as ``-l gpu=N``. There is no node count: only
  ``nodes=1`` (the default, rendered as nothing) is accepted.
* Job names may not contain ``/ : @ \\ * ?`` or whitespace: they are replaced by ``_``.
* Array task indexes start at 1 (``SGE_TASK_ID``; ``undefined`` for a non-array job).
* Output paths expand ``$JOB_ID``, ``$TASK_ID``, ``$JOB_NAME``, ``$HOME``, ``$USER``.
* Rerun (requeue): ``qmod -rj ID`` (managers only) reschedules a running job only if it is
  rerunnable: ``-r y`` or the queue's ``rerun TRUE``; otherwise it keeps running. mlxp does not
  render ``-r y``: whether a job may be rerun (also after a node crash) is the user's or the
  site's choice, as with SLURM's ``--requeue``; write ``#$ -r y`` to allow it. A rescheduled
  ``-notify`` job gets SIGUSR2 (recorded INTERRUPTED), SIGKILL after the queue's notify time,
  then reruns under the same job id (``RESTARTED=1``) and resumes in its run directory.
  Grid Engine also reruns any job that exits 99 (unless ``FORBID_RESCHEDULE``).
"""

from __future__ import annotations

import math

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

PARALLEL_ENVIRONMENT = "smp"


def resource_lines(res: Resources) -> list[str]:
    if res.nodes and res.nodes > 1:
        raise unsupported("sge", "nodes", "Grid Engine has no node count; use a raw "
                                          "'-pe <mpi pe> N' directive for multi-node jobs")
    lines = []
    slots = res.node_cpus  # cpus per task x tasks_per_node
    gpus = res.node_gpus
    if res.partition:
        lines.append(f"-q {res.partition}")
    if res.account:
        lines.append(f"-A {res.account}")
    if slots:
        lines.append(f"-pe {PARALLEL_ENVIRONMENT} {slots}")
    if gpus:
        lines.append(f"-l gpu={gpus}")
    if res.mem_kib:
        per_slot = res.mem_kib
        if slots and slots > 1:
            per_slot = math.ceil(res.mem_kib / slots / 1024) * 1024
        lines.append(f"-l h_vmem={format_mem(per_slot)}")
    if res.time_s:
        lines.append(f"-l h_rt={format_hms(res.time_s)}")
    if res.signal_before_s:
        if not res.time_s:
            raise unsupported("sge", "signal_before_walltime_s", "Grid Engine warns with the "
                              "soft limit s_rt (SIGUSR1), computed as 'time' minus N: set "
                              "resource 'time' too")
        lines.append(f"-l s_rt={format_hms(res.time_s - res.signal_before_s)}")
    return lines


SGE = Scheduler(
    name="sge",
    directive="#$",
    submit_command=("qsub",),
    cancel_command=("qdel",),
    job_id_pattern=r"Your job(?:-array)? (?P<job_id>\d+)\b",
    job_name_format="-N {}",
    stdout_format="-o {}",
    stderr_format="-e {}",
    dependency_format="-hold_jid {ids}", dependency_join=",",
    resource_lines=resource_lines,
    # s_rt (see resource_lines) sends SIGUSR1; a job exiting 99 is rerun (same job id)
    warning_signal="SIGUSR1",
    requeue_exit_status=99,
    env=JobEnv(
        job_id=("JOB_ID",),
        array_task=("SGE_TASK_ID",),
        task_unset=("undefined",),
        requires_any=("SGE_TASK_ID", "SGE_ROOT"),
    ),
    array=ArraySyntax(format="-t {first}-{last}", limit_format="-tc {max}", limit_inline=False,
                      min_index=1),
    job_name_forbidden="/:@\\*?",
    # -notify: qdel sends SIGUSR2 (recorded as INTERRUPTED), then SIGKILL after the queue's
    # notify time; without it qdel is a plain SIGKILL that nothing can record
    default_directives=("-S /bin/bash", "-V", "-notify"),
    notify_signals=("SIGUSR2",),
    active_command=("qstat",),
    job_id_placeholder="$JOB_ID",
    array_index_placeholder="$TASK_ID",
    # queued and running jobs; a pending array shows its waiting tasks as a range (1-4:1)
    list_command=("qstat", "-u", "{user}", "-xml"),
    list_table=JobTable("xml", (
        ("job_id", "JB_job_number"), ("state", "state"), ("node", "queue_name"),
        ("task", "tasks"), ("start", "JAT_start_time")), record="job_list"),
    # qacct reads ONE -j: every job of the user started since the earliest one asked
    acct_command=("qacct", "-o", "{user}", "-j", "*", "-b", "{since}"),
    acct_table=JobTable("blocks", (
        ("job_id", "jobnumber"), ("task", "taskid"), ("failed", "failed"),
        ("exit_code", "exit_status"), ("elapsed", "ru_wallclock"), ("cpu_time", "cpu"),
        ("max_rss", "ru_maxrss"), ("node", "hostname"), ("req", "category")),
        record=r"^=+\s*$"),
    acct_since_format="%Y%m%d%H%M",
    task_id_format="{job}.{task}",
    pending_states=("qw", "hqw", "hRwq", "Eqw", "Ehqw", "w"),
    running_states=("r", "t", "Rr", "Rt", "s", "ts", "S", "tS", "T", "tT", "dr", "dt"),
    # qacct's `failed` field (code : text) and exit status; a qdel'ed job: `100 : assumedly
    # after job` (exit 137 or the -notify signal's)
    end_reasons=((r"h_rt|s_rt|wallclock", "TIMEOUT"), (r"h_vmem|s_vmem|mem", "OUT_OF_MEMORY"),
                 (r"assumedly after job|deleted", "CANCELLED"),
                 (r"rescheduling", "PREEMPTED"), (r"^failed 0 exit 0$", "COMPLETED"),
                 (r".", "FAILED")),
    # max_aj_tasks caps the number of tasks of one array (0: no limit)
    array_limit_command=("qconf", "-sconf"),
    array_limit_pattern=r"^max_aj_tasks\s+(\d+)",
)
