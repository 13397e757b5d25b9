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
    JobTable,
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
    if res.tasks_per_node:
        lines.append(f"--ntasks-per-node={res.tasks_per_node}")
    if res.gpus_per_task:
        lines.append(f"--gpus-per-task={res.gpus_per_task}")
    if res.signal_before_s:
        # B: to the batch shell, which forwards it to the command (srun passes it to tasks)
        lines.append(f"--signal=B:USR1@{res.signal_before_s}")
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
    dependency_format="--dependency=afterany:{ids}",
    resource_lines=resource_lines,
    task_launcher="srun",
    warning_signal="SIGUSR1",
    # requeues only this job (an array task has its own SLURM_JOB_ID); the job is held
    # about 2 minutes (Slurm's requeue delay) before it can start again
    requeue_command=("scontrol", "requeue", "{job_id}"),
    node_gpus_command=("sinfo", "-h", "-N", "-o", "%G"),
    node_gpus_pattern=r"gpu(?::[A-Za-z0-9_.-]+)?:(?P<gpus>\d+)",
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
    # one line per job and per array task (-r), ended ones too while slurmctld keeps them
    # (MinJobAge): what the scheduler knows even without accounting (slurmdbd)
    list_command=("squeue", "-h", "-r", "-t", "all", "-u", "{user}", "-o",
                  "%i|%T|%r|%N|%M|%l|%m|%C|%b"),
    list_table=JobTable("delimited", (
        ("own_id", "%i"), ("state", "%T"), ("reason", "%r"), ("node", "%N"),
        ("elapsed", "%M"), ("time_limit", "%l"), ("req_mem", "%m"), ("cpus", "%C"),
        ("gpus", "%b"))),
    # steps (123.batch) carry MaxRSS and TotalCPU: folded into their job's row
    acct_command=("sacct", "-n", "-P", "-o",
                  "JobID,State,ExitCode,Elapsed,TotalCPU,MaxRSS,ReqMem,Timelimit,AllocTRES,"
                  "NodeList", "-j", "{ids}"),
    acct_table=JobTable("delimited", (
        ("own_id", "JobID"), ("state", "State"), ("exit_code", "ExitCode"),
        ("elapsed", "Elapsed"), ("cpu_time", "TotalCPU"), ("max_rss", "MaxRSS"),
        ("req_mem", "ReqMem"), ("time_limit", "Timelimit"), ("gpus", "AllocTRES"),
        ("node", "NodeList")), steps=True),
    acct_disabled_pattern=r"accounting storage is disabled",
    id_pattern=r"(?P<job_id>\d+)(?:_(?P<task>\d+))?",
    task_id_format="{job}_{task}",
    pending_states=("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                    "RESV_DEL_HOLD", "SPECIAL_EXIT"),
    running_states=("RUNNING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "SIGNALING",
                    "RESIZING", "STOPPED"),
    end_reasons=((r"OUT_OF_ME", "OUT_OF_MEMORY"), (r"TIMEOUT|DEADLINE", "TIMEOUT"),
                 (r"NODE_FAIL|BOOT_FAIL", "NODE_FAIL"), (r"PREEMPTED", "PREEMPTED"),
                 (r"CANCELLED", "CANCELLED"), (r"COMPLETED", "COMPLETED"), (r".", "FAILED")),
    # MaxArraySize caps the task index: indexes 0 .. MaxArraySize - 1
    array_limit_command=("scontrol", "show", "config"),
    array_limit_pattern=r"^MaxArraySize\s*=\s*(\d+)",
    array_limit_caps_index=True,
)
