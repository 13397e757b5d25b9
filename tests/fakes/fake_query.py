"""Fake listing, accounting and configuration commands: what `mlxp status/cancel/rerun` ask.

Each reproduces the calling form mlxp uses and the real command's output format, from the
job records the fake submit commands write (``fakesched``):

* SLURM 22.05: ``squeue -h -r -t all -u USER -o FORMAT`` (``%i %T %r %N %M %l %m %C %b %A %F
  %K``; without ``-r`` a pending array shows as ``123_[4-9]``; ended jobs are listed for
  ``FAKE_SCHED_MIN_JOB_AGE`` seconds, default 300, as slurmctld's MinJobAge),
  ``sacct -n -P -o FIELDS -j IDS`` (job rows plus a ``.batch`` step row carrying MaxRSS;
  ``FAKE_SCHED_ACCOUNTING=0``: "Slurm accounting storage is disabled", exit 1, as a cluster
  without slurmdbd), ``scontrol show config`` (``MaxArraySize`` from
  ``FAKE_SCHED_MAX_ARRAY_SIZE``, default 1001).
* Grid Engine 8.1: ``qstat -u USER -xml`` (pending tasks of an array folded into one range
  ``3-5:1``), ``qacct -o USER -j '*' -b TIME`` (blocks of ``key value`` lines, separated by
  ``====`` lines), ``qconf -sconf`` (``max_aj_tasks`` from ``FAKE_SCHED_MAX_AJ_TASKS``,
  default 75000).
* OAR 2.5: ``oarstat -J -u USER`` (current jobs), ``oarstat -J -f -j A -j B`` (any job:
  state, exit_code as a raw wait status, events).
* TORQUE: ``qstat -t`` (default table, one line per array task); LSF: ``bjobs -a -u USER
  -noheader -o "... delimiter='|'"``; Moab: ``showq -u USER --xml``.

A record's ``final`` field (set by a test, as the scheduler would decide) gives the state
of an ended job: ``TIMEOUT``, ``OUT_OF_MEMORY``, ``NODE_FAIL``, ``PREEMPTED``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Optional
from xml.sax.saxutils import quoteattr

from fakesched import (
    CANCELLED,
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    all_records,
    state_dir,
    user_name,
)

# --------------------------------------------------------------------------------------------
# Records -> tasks (a norun array record stands for all its tasks, pending)
# --------------------------------------------------------------------------------------------


def tasks(scheduler: str) -> list[dict]:
    out = []
    for record in all_records(state_dir()):
        if record.get("scheduler") != scheduler:
            continue
        keys = record.get("norun_array_keys")
        if keys:
            for position, key in enumerate(keys):
                out.append({**record, "key": key, "norun_array_keys": None,
                            "env": _task_env(scheduler, record["env"], key, position)})
        else:
            out.append(record)
    return out


def _task_env(scheduler: str, env: dict, key: str, position: int) -> dict:
    """The variables of task `key` of an array whose record stands for all its tasks."""
    index = re.search(r"[._\[](\d+)\]?(?:\.|$)", key)
    task = index.group(1) if index else str(position + 1)
    extra = {"slurm": {"SLURM_ARRAY_TASK_ID": task},
             "sge": {"SGE_TASK_ID": task},
             "oar": {"OAR_ARRAY_INDEX": str(position + 1), "OAR_JOB_ID": key},
             "lsf": {"LSB_JOBINDEX": task},
             "torque": {"PBS_ARRAYID": task},
             "mwm": {"MOAB_JOBARRAYINDEX": task}}.get(scheduler, {})
    return {**env, **extra}


def ended(record: dict) -> bool:
    return record["state"] in (COMPLETED, FAILED, CANCELLED)


def elapsed(record: dict) -> float:
    if not record.get("start_time"):
        return 0.0
    return (record.get("end_time") or time.time()) - record["start_time"]


def hms(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def ms(seconds: float) -> str:
    """squeue's %M: M:SS, H:MM:SS past an hour."""
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def final_state(record: dict) -> str:
    if record.get("final"):
        return str(record["final"])
    return record["state"]


def option(argv: list[str], name: str) -> Optional[str]:
    for i, token in enumerate(argv):
        if token == name and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(name + "="):
            return token.split("=", 1)[1]
    return None


def options(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == name]


# --------------------------------------------------------------------------------------------
# SLURM
# --------------------------------------------------------------------------------------------


def _slurm_split(key: str) -> tuple[str, Optional[str]]:
    job, _, task = key.partition("_")
    return job, task or None


def _slurm_field(code: str, record: dict, key: str) -> str:
    state = final_state(record)
    job, task = _slurm_split(key)
    own = str(record["env"].get("SLURM_JOB_ID", job)) if not record.get("norun_array_keys") \
        else job
    values = {
        "i": key, "T": state, "N": "" if state == PENDING else "localhost",
        "r": ("Resources" if state == PENDING else "None" if state in (RUNNING, COMPLETED)
              else "NonZeroExitCode"),
        "M": ms(elapsed(record)), "l": record.get("time_limit") or "UNLIMITED", "m": "0",
        "C": "1", "b": "N/A", "A": own, "F": job, "K": task or "N/A",
    }
    return values.get(code, "")


def _format(fmt: str, record: dict, key: str) -> str:
    return re.sub(r"%\.?\d*([a-zA-Z])", lambda m: _slurm_field(m.group(1), record, key), fmt)


def squeue(argv: list[str]) -> int:
    fmt = option(argv, "-o") or "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
    every = "-r" in argv
    states = option(argv, "-t") or ""
    min_age = float(os.environ.get("FAKE_SCHED_MIN_JOB_AGE", "300"))
    rows = []
    pending_arrays: dict[str, list[int]] = {}
    for record in tasks("slurm"):
        if ended(record):
            if states.lower() != "all" or time.time() - (record.get("end_time") or 0) > min_age:
                continue
        key = record["key"]
        job, task = _slurm_split(key)
        if task is not None and record["state"] == PENDING and not every:
            pending_arrays.setdefault(job, []).append(int(task))
            continue
        rows.append(_format(fmt, record, key))
    for job, indexes in pending_arrays.items():
        spec = f"{job}_[{min(indexes)}-{max(indexes)}]"
        rows.append(_format(fmt, {"state": PENDING, "env": {}, "key": spec}, spec))
    if "-h" not in argv and "--noheader" not in argv:
        print("JOBID")
    for row in rows:
        print(row)
    return 0


def sacct(argv: list[str]) -> int:
    if os.environ.get("FAKE_SCHED_ACCOUNTING", "1") == "0":
        print("Slurm accounting storage is disabled")
        return 1
    fields = (option(argv, "-o") or option(argv, "--format") or "JobID,State").split(",")
    wanted = set((option(argv, "-j") or "").split(",")) - {""}
    for record in tasks("slurm"):
        key = record["key"]
        job, _ = _slurm_split(key)
        if wanted and key not in wanted and job not in wanted:
            continue
        state = final_state(record)
        code = record.get("exit_code")
        exit_code = "0:15" if state == CANCELLED else f"{code or 0}:0"
        shown = key
        values = {"JobID": shown, "State": state if state != CANCELLED else "CANCELLED by 0",
                  "ExitCode": exit_code, "Elapsed": hms(elapsed(record)),
                  "TotalCPU": "00:00.120", "MaxRSS": "", "ReqMem": "0",
                  "Timelimit": record.get("time_limit") or "UNLIMITED",
                  "AllocTRES": "billing=1,cpu=1,mem=0,node=1", "NodeList": "localhost"}
        if state == PENDING:
            values.update(NodeList="None assigned", AllocTRES="")
        print("|".join(values.get(f, "") for f in fields))
        if record.get("start_time"):
            step = {**values, "JobID": f"{shown}.batch", "State": state.split()[0],
                    "MaxRSS": "20480K", "ReqMem": "", "Timelimit": "", "AllocTRES": "cpu=1"}
            print("|".join(step.get(f, "") for f in fields))
    return 0


def scontrol(argv: list[str]) -> int:
    if argv[:2] == ["show", "config"]:
        size = os.environ.get("FAKE_SCHED_MAX_ARRAY_SIZE", "1001")
        print("Configuration data as of 2026-12-07T10:00:00")
        print("AccountingStorageType   = accounting_storage/slurmdbd")
        print(f"MaxArraySize            = {size}")
        print("MaxJobCount             = 10000")
        print("MinJobAge               = 300 sec")
        return 0
    print(f"scontrol (fake): only `scontrol show config` is implemented, got {argv}",
          file=sys.stderr)
    return 1


# --------------------------------------------------------------------------------------------
# Grid Engine
# --------------------------------------------------------------------------------------------


def _sge_task(record: dict) -> Optional[int]:
    task = record["env"].get("SGE_TASK_ID", "undefined")
    return None if task == "undefined" else int(task)


def qstat_sge_xml(argv: list[str]) -> int:
    running, pending = [], []
    folded: dict[str, list[int]] = {}
    for record in tasks("sge"):
        if ended(record):
            continue
        job = str(record["submit_id"])
        task = _sge_task(record) if not record.get("norun_array_keys") else None
        if record.get("norun_array_keys") is None and "." in record["key"] and task is None:
            task = int(record["key"].split(".")[1])
        if record["state"] == PENDING and task is not None:
            folded.setdefault(job, []).append(task)
            continue
        entry = (job, "r" if record["state"] == RUNNING else "qw",
                 "" if task is None else str(task), record)
        (running if record["state"] == RUNNING else pending).append(entry)
    for job, indexes in folded.items():
        pending.append((job, "qw", f"{min(indexes)}-{max(indexes)}:1", None))
    print("<?xml version='1.0'?>")
    print('<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/'
          'resources/schemas/qstat/qstat.xsd">')
    for section, entries, label in (("queue_info", running, "running"),
                                    ("job_info", pending, "pending")):
        print(f"  <{section}>")
        for job, state, task, _ in entries:
            print(f'    <job_list state="{label}">')
            print(f"      <JB_job_number>{job}</JB_job_number>")
            print("      <JB_name>job</JB_name>")
            print(f"      <JB_owner>{user_name()}</JB_owner>")
            print(f"      <state>{state}</state>")
            queue = "all.q@localhost" if label == "running" else ""
            print(f"      <queue_name>{queue}</queue_name>")
            print("      <slots>1</slots>")
            if task:
                print(f"      <tasks>{task}</tasks>")
            print("    </job_list>")
        print(f"  </{section}>")
    print("</job_info>")
    return 0


def qacct(argv: list[str]) -> int:
    job_filter = option(argv, "-j")
    rows = [r for r in tasks("sge") if ended(r) and r.get("start_time")
            and (job_filter in (None, "*") or str(r["submit_id"]) == job_filter)]
    if not rows:
        print(f"error: job id {job_filter} not found" if job_filter not in (None, "*")
              else "error: ending time before beginning time", file=sys.stderr)
        return 1
    for record in rows:
        state = final_state(record)
        failed = {"TIMEOUT": "37  : qmaster enforced h_rt limit",
                  CANCELLED: "100 : assumedly after job"}.get(state, "0")
        code = 137 if state in ("TIMEOUT", CANCELLED) else (record.get("exit_code") or 0)
        task = _sge_task(record)
        print("=" * 62)
        for key, value in (("qname", "all.q"), ("hostname", "localhost"),
                           ("owner", user_name()), ("jobname", "job"),
                           ("jobnumber", record["submit_id"]),
                           ("taskid", "undefined" if task is None else task),
                           ("failed", failed), ("exit_status", code),
                           ("ru_wallclock", f"{int(elapsed(record))}s"),
                           ("ru_maxrss", "20.480KB"), ("cpu", "0.120s"),
                           ("category", record.get("category") or "NONE")):
            print(f"{key:<12} {value}")
    return 0


def qconf(argv: list[str]) -> int:
    if argv[:1] == ["-sconf"]:
        print("#global:")
        print("execd_spool_dir              /var/spool/gridengine/execd")
        print("max_aj_instances             2000")
        print(f"max_aj_tasks                 {os.environ.get('FAKE_SCHED_MAX_AJ_TASKS', '75000')}")
        print(f"max_u_jobs                   {os.environ.get('FAKE_SCHED_MAX_SUBMIT', '0')}")
        return 0
    print(f"qconf (fake): only -sconf is implemented, got {argv}", file=sys.stderr)
    return 1


# --------------------------------------------------------------------------------------------
# OAR
# --------------------------------------------------------------------------------------------

OAR_STATES = {PENDING: "Waiting", RUNNING: "Running", COMPLETED: "Terminated",
              FAILED: "Terminated", CANCELLED: "Error"}


def _oar_job(record: dict, full: bool) -> dict:
    env = record["env"]
    state = final_state(record)
    job = {"Job_Id": int(record["key"]), "array_id": int(env["OAR_ARRAY_ID"]),
           "array_index": int(env["OAR_ARRAY_INDEX"]),
           "state": "Error" if state in ("TIMEOUT", CANCELLED) else OAR_STATES.get(
               record["state"], "Error"),
           "owner": user_name(), "name": env.get("OAR_JOB_NAME") or None,
           "message": "R=1,W=2:0:0,J=B (Karma=0.000,quota_ok)",
           "startTime": int(record["start_time"] or 0), "queue": "default",
           "assigned_network_address": [] if record["state"] == PENDING else ["localhost"]}
    if full:
        events = []
        if state in ("TIMEOUT", CANCELLED):
            events.append({"type": "FRAG_JOB_REQUEST", "description": "requested to frag"})
        if state == "TIMEOUT":
            events.append({"type": "WALLTIME", "description": "Job from ... (Elapsed)"})
        code = record.get("exit_code")
        job.update(stopTime=int(record.get("end_time") or 0), walltime=7200, events=events,
                   exit_code=None if code is None or state in ("TIMEOUT", CANCELLED)
                   else int(code) << 8, resubmit_job_id=0)
    return job


def oarstat(argv: list[str]) -> int:
    if "-J" not in argv:
        return -1  # the plain form: fakesched's listing
    ids = options(argv, "-j")
    jobs = {}
    for record in tasks("oar"):
        if ids:
            if record["key"] in ids:
                jobs[record["key"]] = _oar_job(record, "-f" in argv)
        elif not ended(record):
            jobs[record["key"]] = _oar_job(record, "-f" in argv)
    if jobs:
        print(json.dumps(jobs, indent=3))
    return 0


# --------------------------------------------------------------------------------------------
# TORQUE, LSF, Moab
# --------------------------------------------------------------------------------------------

TORQUE_STATES = {PENDING: "Q", RUNNING: "R", COMPLETED: "C", FAILED: "C", CANCELLED: "C"}


def qstat_torque(argv: list[str]) -> int:
    rows = [r for r in tasks("torque")]
    if rows:
        print(f"{'Job ID':<25} {'Name':<16} {'User':<15} {'Time Use'} S Queue")
        print(f"{'-' * 25} {'-' * 16} {'-' * 15} {'-' * 8} - -----")
    for record in rows:
        used = hms(elapsed(record)) if record.get("start_time") else "0"
        print(f"{record['key'][:25]:<25} {'job':<16} {user_name():<15} {used:>8} "
              f"{TORQUE_STATES[record['state']]} batch")
    return 0


LSF_STATES = {PENDING: "PEND", RUNNING: "RUN", COMPLETED: "DONE", FAILED: "EXIT",
              CANCELLED: "EXIT"}


def bjobs(argv: list[str]) -> int:
    if "-o" not in argv:
        return -1
    rows = tasks("lsf")
    if not rows:
        print("No job found", file=sys.stderr)
        return 0
    for record in rows:
        index = record["env"].get("LSB_JOBINDEX", "0")
        host = "-" if record["state"] == PENDING else "localhost"
        reason = "-"
        if record["state"] == CANCELLED:
            reason = "TERM_OWNER: job killed by owner"
        elif final_state(record) == "TIMEOUT":
            reason = "TERM_RUNLIMIT: job killed after reaching LSF run time limit"
        print("|".join([str(record["submit_id"]), index, LSF_STATES[record["state"]], host,
                        f"{int(elapsed(record))} second(s)", reason]))
    return 0


MOAB_STATES = {PENDING: "Idle", RUNNING: "Running", COMPLETED: "Completed",
               FAILED: "Completed", CANCELLED: "Removed"}


def showq(argv: list[str]) -> int:
    if "--xml" not in argv:
        return -1
    print('<Data><Object>queue</Object><cluster LocalActiveNodes="1"></cluster>')
    for option_name, wanted in (("active", (RUNNING,)), ("eligible", (PENDING,))):
        print(f'<queue option="{option_name}">')
        for record in tasks("mwm"):
            if record["state"] in wanted:
                print(f"<job JobID={quoteattr(record['key'])} "
                      f"State={quoteattr(MOAB_STATES[record['state']])} "
                      f"User={quoteattr(user_name())} MasterHost=\"localhost\"></job>")
        print("</queue>")
    print("</Data>")
    return 0


def main(prog: str, argv: list[str]) -> int:
    """Run a query command; -1 when the calling form is fakesched's plain listing."""
    if prog == "squeue":
        return squeue(argv) if "-o" in argv or "-h" in argv else -1
    if prog == "sacct":
        return sacct(argv)
    if prog == "scontrol":
        return scontrol(argv)
    if prog == "qacct":
        return qacct(argv)
    if prog == "qconf":
        return qconf(argv)
    if prog == "qstat":
        if "-xml" in argv:
            return qstat_sge_xml(argv)
        if "-t" in argv:
            return qstat_torque(argv)
        return -1
    if prog == "oarstat":
        return oarstat(argv)
    if prog == "bjobs":
        return bjobs(argv)
    if prog == "showq":
        return showq(argv)
    return -1
