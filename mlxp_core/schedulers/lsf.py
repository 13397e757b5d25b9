"""IBM Spectrum LSF: ``bsub < script`` (the script on stdin, so ``#BSUB`` lines are read) prints
``Job <123> is submitted to queue <normal>.`` (or ``... to default queue <normal>.``).

Notes:

* ``cpus`` renders ``-n N`` with ``-R "span[hosts=1]"`` (all slots on one host); a node count
  above 1 cannot be expressed.
* ``-M`` is a per-process limit unless the cluster sets ``LSB_JOB_MEMLIMIT=y``; the unit suffix
  (``-M 4GB``) is explicit so that ``LSF_UNIT_FOR_LIMITS`` does not matter.
* ``-W`` takes ``[H:]MM``: the walltime is rounded up to the minute.
* Arrays are part of the job name: ``-J "name[first-last]%limit"``; indexes start at 1,
  ``LSB_JOBINDEX`` is the task index (0 for a non-array job); output paths expand ``%J``
  (job id) and ``%I`` (task index).
* Job names may not contain ``[`` or ``]`` (they would make an array): replaced by ``_``.
"""

from __future__ import annotations

from mlxp_core.schedulers.base import (
    ArraySyntax,
    JobEnv,
    JobTable,
    Resources,
    Scheduler,
    format_hm,
    format_mem,
    unsupported,
)


def resource_lines(res: Resources) -> list[str]:
    if res.nodes and res.nodes > 1 and not res.tasks_per_node:
        raise unsupported("lsf", "nodes", "only nodes=1 (span[hosts=1]) can be expressed "
                                          "without 'tasks_per_node' (span[ptile=N])")
    lines = []
    if res.partition:
        lines.append(f"-q {res.partition}")
    if res.account:
        lines.append(f"-P {res.account}")
    if res.tasks_per_node:  # -n counts tasks (slots); ptile: tasks on each host
        lines.append(f"-n {res.tasks_per_node * (res.nodes or 1)}")
        lines.append(f'-R "span[ptile={res.tasks_per_node}]"')
        if res.cpus:
            lines.append(f'-R "affinity[core({res.cpus})]"')
    else:
        if res.cpus:
            lines.append(f"-n {res.cpus}")
        if res.cpus or res.nodes:
            lines.append('-R "span[hosts=1]"')
    if res.node_gpus:  # num= is per host
        lines.append(f'-gpu "num={res.node_gpus}"')
    if res.mem_kib:
        lines.append(f"-M {format_mem(res.mem_kib, ('KB', 'MB', 'GB', 'TB'))}")
    if res.time_s:
        lines.append(f"-W {format_hm(res.time_s)}")
    if res.signal_before_s:  # the warning time is in minutes (rounded up); exit 99 requeues
        lines += ["-wa USR1", f"-wt {format_hm(res.signal_before_s)}", '-Q "99"']
    return lines


LSF = Scheduler(
    name="lsf",
    directive="#BSUB",
    submit_command=("bsub",),
    cancel_command=("bkill",),
    job_id_pattern=r"Job <(?P<job_id>\d+)> is submitted to (?:default )?queue",
    job_name_format="-J {}",
    stdout_format="-o {}",
    stderr_format="-e {}",
    dependency_format='-w "{ids}"', dependency_item="ended({id})",
    dependency_join=" && ",
    resource_lines=resource_lines,
    warning_signal="SIGUSR1",
    requeue_exit_status=99,
    env=JobEnv(
        job_id=("LSB_JOBID",),
        array_task=("LSB_JOBINDEX",),
        task_unset=("0",),
    ),
    array=ArraySyntax(format='-J "{name}[{first}-{last}]{limit}"', limit_format="%{max}",
                      min_index=1, in_job_name=True),
    submit_via_stdin=True,
    directive_quoting=True,
    job_name_forbidden='"[]',
    job_id_placeholder="%J",
    active_command=("bjobs", "-noheader", "-o", "jobid stat"),
    finished_states=("DONE", "EXIT"),
    array_index_placeholder="%I",
    # -a: ended jobs too (for a while); one line per array element
    list_command=("bjobs", "-a", "-u", "{user}", "-noheader", "-o",
                  "jobid jobindex stat exec_host run_time exit_reason delimiter='|'"),
    list_table=JobTable("delimited", (
        ("job_id", "jobid"), ("task", "jobindex"), ("state", "stat"), ("node", "exec_host"),
        ("elapsed", "run_time"), ("reason", "exit_reason"))),
    task_id_format="{job}[{task}]",
    pending_states=("PEND", "PSUSP", "WAIT"),
    running_states=("RUN", "USUSP", "SSUSP", "PROV"),
    end_reasons=((r"MEMLIMIT|memory", "OUT_OF_MEMORY"), (r"RUNLIMIT|run limit", "TIMEOUT"),
                 (r"killed by owner|TERM_OWNER|bkill", "CANCELLED"), (r"^DONE", "COMPLETED"),
                 (r".", "FAILED")),
)
