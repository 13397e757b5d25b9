"""Moab Workload Manager (``mwm``): ``msub script`` prints an empty line, then the job id
(``123``, ``Moab.123`` or ``123.server``); the id is read from the last non-empty line.

Notes:

* Directive prefix ``#MSUB``; Moab also reads ``#PBS`` lines, which may be passed as raw
  directives with their own prefix.
* Every job gets ``-V`` (export the submitter's environment).
* All resources go on one ``-l`` line: ``-l nodes=N:ppn=C[:gpus=G],walltime=HH:MM:SS,mem=4gb``.
* Arrays: ``-t [first-last]%limit``; ``MOAB_JOBARRAYINDEX`` is the task index and a task's job id
  is ``<array id>[<index>]``. There is no output-path placeholder.
* Cancel with ``canceljob`` (``mjobctl -c`` on newer versions).
* Under TORQUE the job also sees the ``PBS_*`` variables; ``MOAB_JOBID`` is checked first.
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
from mlxp_core.schedulers.torque import MEM_UNITS, nodes_spec


def resource_lines(res: Resources) -> list[str]:
    lines = []
    if res.partition:
        lines.append(f"-q {res.partition}")
    if res.account:
        lines.append(f"-A {res.account}")
    spec = [part for part in (nodes_spec(res),) if part]
    if res.time_s:
        spec.append(f"walltime={format_hms(res.time_s)}")
    if res.mem_kib:
        spec.append(f"mem={format_mem(res.mem_kib, MEM_UNITS)}")
    if res.signal_before_s:
        spec.append(f"signal=SIGUSR1@{res.signal_before_s}")
    if spec:
        lines.append("-l " + ",".join(spec))
    return lines


MWM = Scheduler(
    name="mwm",
    directive="#MSUB",
    submit_command=("msub",),
    cancel_command=("canceljob",),
    job_id_pattern=(r"^(?P<job_id>(?:[A-Za-z][A-Za-z0-9_-]*\.)?\d+(?:\.[A-Za-z0-9_.-]+)?)"
                    r"\s*\Z"),
    job_name_format="-N {}",
    stdout_format="-o {}",
    stderr_format="-e {}",
    dependency_format="-l depend=afterany:{ids}",
    resource_lines=resource_lines,
    warning_signal="SIGUSR1",  # -l signal=SIGUSR1@N; Moab has no self-requeue for a user job
    env=JobEnv(
        job_id=("MOAB_JOBID",),
        array_task=("MOAB_JOBARRAYINDEX",),
    ),
    array=ArraySyntax(format="-t [{first}-{last}]{limit}", limit_format="%{max}", min_index=1,
                      id_brackets=""),
    default_directives=("-V",),
    active_command=("showq",),
    extra_prefixes=("#PBS",),
    # `showq --xml`: <job JobID="123" State="Running" .../> per active job
    list_command=("showq", "-u", "{user}", "--xml"),
    list_table=JobTable("xml", (("own_id", "JobID"), ("state", "State"),
                                ("node", "MasterHost")), record="job"),
    id_pattern=r"(?:Moab\.)?(?P<job_id>\d+)(?:\[(?P<task>\d+)\])?",
    task_id_format="{job}[{task}]",
    pending_states=("Idle", "Hold", "Deferred", "BatchHold", "SystemHold", "UserHold",
                    "Staging", "NotQueued", "Blocked"),
    running_states=("Running", "Starting", "Suspended"),
    end_reasons=((r"Removed|Vacated", "CANCELLED"), (r"Completed", "COMPLETED"),
                 (r".", "FAILED")),
)
