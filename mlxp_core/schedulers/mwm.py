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
    resource_lines=resource_lines,
    env=JobEnv(
        job_id=("MOAB_JOBID",),
        array_task=("MOAB_JOBARRAYINDEX",),
    ),
    array=ArraySyntax(format="-t [{first}-{last}]{limit}", limit_format="%{max}", min_index=1,
                      id_brackets=""),
    default_directives=("-V",),
    active_command=("showq",),
    extra_prefixes=("#PBS",),
)
