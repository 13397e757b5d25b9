"""Is a real scheduler up, wait for its jobs, cancel one: always with the scheduler's own commands.

SLURM, Grid Engine and OAR run on this machine when ``bash scripts/schedulers/start-all.sh``
started them (see ``scripts/schedulers/README.md``). What each scheduler says about an ended job:

* SLURM: ``scontrol show job -o ID`` -> ``(JobState, ExitCode)``, e.g. ``("FAILED", "1:0")``.
* Grid Engine: ``qstat -j ID`` exits 1 once the job has left, then ``qacct -j ID`` (about 1 s
  later) -> ``("DONE", exit_status)`` when ``failed`` is 0, else ``("FAILED <failed>", ...)``,
  e.g. ``("FAILED 100 : assumedly after job", "140")`` for a job killed by ``qdel``.
* OAR: ``oarstat -J -f -j ID`` -> ``(state, exit_code)``, e.g. ``("Terminated", "256")`` (the
  raw wait status of ``exit 1``) or ``("Error", None)`` for a job killed by ``oardel``.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import subprocess
import time
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple

import pytest

log = logging.getLogger(__name__)

NAMES = ("slurm", "sge", "oar")
LABELS = {"slurm": "SLURM", "sge": "Grid Engine", "oar": "OAR"}
REQUIRE_ENV = "MLXP_REQUIRE_SCHEDULERS"
START_ALL = "bash scripts/schedulers/start-all.sh"
OAR_USER = os.environ.get("OAR_TEST_USER", "oartest")
COMMAND_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 15.0

# (state, exit code) as the scheduler reports them; the exit code is its text (None: none)
JobEnd = Tuple[str, Optional[str]]
# (ended?, state, exit code)
_Look = Tuple[bool, str, Optional[str]]

SLURM_ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                         "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"})
SLURM_USABLE_NODE = frozenset({"idle", "mixed", "allocated", "completing"})
OAR_ENDED = frozenset({"Terminated", "Error"})


def command(argv: Sequence[str], timeout: float = COMMAND_TIMEOUT_S
            ) -> subprocess.CompletedProcess[str]:
    """Run a scheduler command; a missing command reads as exit status 127."""
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(argv), 124, "", f"timed out after {timeout} s")


def _said(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr.strip() or proc.stdout.strip() or "(no output)").splitlines()
    return f"`{' '.join(proc.args)}` exited {proc.returncode}: {' | '.join(text[-3:])}"


# --------------------------------------------------------------------------------------------
# Is it up?
# --------------------------------------------------------------------------------------------


def _slurm_problem() -> Optional[str]:
    ping = command(["scontrol", "ping"], PROBE_TIMEOUT_S)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return _said(ping)
    nodes = command(["sinfo", "-h", "-o", "%T"], PROBE_TIMEOUT_S)
    states = set(nodes.stdout.split())
    if nodes.returncode != 0 or not states & SLURM_USABLE_NODE:
        return f"no usable node: {_said(nodes)}"
    return None


def _sge_problem() -> Optional[str]:
    queues = command(["qstat", "-g", "c"], PROBE_TIMEOUT_S)
    if queues.returncode != 0 or not re.search(r"^\S+\.q\s", queues.stdout, re.MULTILINE):
        return _said(queues)
    hosts = command(["qhost"], PROBE_TIMEOUT_S)
    rows = [line.split() for line in hosts.stdout.splitlines()]
    hosts_up = [r for r in rows
                if len(r) > 6 and r[0] not in ("HOSTNAME", "global") and r[6] != "-"]
    if hosts.returncode != 0 or not hosts_up:
        return f"no execution host reports a load (sge_execd down?): {_said(hosts)}"
    return None


def _oar_problem() -> Optional[str]:
    nodes = command(["oarnodes", "-s"], PROBE_TIMEOUT_S)
    if nodes.returncode != 0 or "Alive" not in nodes.stdout:
        return f"no Alive resource: {_said(nodes)}"
    try:
        pwd.getpwnam(OAR_USER)
    except KeyError:
        return f"the submit user {OAR_USER!r} does not exist"
    return None


_DOWN: Dict[str, str] = {}  # scheduler name -> why it was found down
_PROBLEMS: Dict[str, Callable[[], Optional[str]]] = {
    "slurm": _slurm_problem, "sge": _sge_problem, "oar": _oar_problem,
}


def problem(name: str) -> Optional[str]:
    """Why scheduler ``name`` cannot take jobs now, or None when it can."""
    return _PROBLEMS[name]()


def scheduler_up(name: str) -> bool:
    """True when scheduler ``name`` (slurm, sge, oar) answers and has a usable node."""
    return problem(name) is None


def require(name: str) -> None:
    """Skip the test when ``name`` is down; fail it instead when MLXP_REQUIRE_SCHEDULERS is set.

    A scheduler found down stays down for this process (its probes can take seconds each).
    """
    why = _DOWN.get(name) or problem(name)
    if why is None:
        return
    _DOWN[name] = why
    message = (f"{LABELS[name]} is not running on this machine ({why}); start it with "
               f"SCHEDULERS={name} {START_ALL} (all three: {START_ALL})")
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"{REQUIRE_ENV} is set: {message}", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------------------------
# Waiting
# --------------------------------------------------------------------------------------------


def _field(text: str, key: str) -> Optional[str]:
    found = re.search(rf"(?:^|\s){key}=(\S+)", text)
    return found.group(1) if found else None


def _slurm_look(job_id: str) -> _Look:
    proc = command(["scontrol", "show", "job", "-o", job_id])
    if proc.returncode != 0:
        raise RuntimeError(f"SLURM does not know job {job_id}: {_said(proc)}")
    state = _field(proc.stdout, "JobState") or "?"
    return state in SLURM_ENDED, state, _field(proc.stdout, "ExitCode")


def _qacct_fields(text: str) -> Dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    return fields


def _sge_look(job_id: str) -> _Look:
    if command(["qstat", "-j", job_id]).returncode == 0:
        return False, "in qstat", None
    acct = command(["qacct", "-j", job_id])
    if acct.returncode != 0:  # qacct lags about 1 s behind the job's end
        return False, "left qstat, not yet in qacct", None
    fields = _qacct_fields(acct.stdout)
    failed = fields.get("failed", "?")
    state = "DONE" if failed == "0" else f"FAILED {failed}"
    status = fields.get("exit_status", "").split()
    return True, state, status[0] if status else None


def _oar_look(job_id: str) -> _Look:
    proc = command(["oarstat", "-J", "-f", "-j", job_id])
    if proc.returncode != 0:
        raise RuntimeError(f"oarstat failed for job {job_id}: {_said(proc)}")
    data = json.loads(proc.stdout) if proc.stdout.strip() else {}
    job = data.get(job_id)
    if not job:
        return False, "unknown to oarstat", None
    state, code = str(job.get("state")), job.get("exit_code")
    return state in OAR_ENDED, state, None if code is None else str(code)


_LOOKS: Dict[str, Callable[[str], _Look]] = {
    "slurm": _slurm_look, "sge": _sge_look, "oar": _oar_look,
}


def look(name: str, job_id: str) -> _Look:
    """``(ended, state, exit code)`` of one job, as scheduler ``name`` reports it now."""
    return _LOOKS[name](str(job_id))


def wait_done(name: str, job_ids: Iterable[str], timeout: float = 120.0,
              poll: float = 0.5) -> Dict[str, JobEnd]:
    """Wait until every job has ended; ``{job id: (state, exit code)}`` (see module doc).

    Raises TimeoutError naming the jobs still going and their last state.
    """
    pending = [str(i) for i in job_ids]
    ends: Dict[str, JobEnd] = {}
    last: Dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        for job_id in list(pending):
            ended, state, code = look(name, job_id)
            last[job_id] = state
            if ended:
                ends[job_id] = (state, code)
                pending.remove(job_id)
        if not pending:
            log.info("%s jobs ended: %s", name, ends)
            return ends
        if time.monotonic() > deadline:
            going = {i: last[i] for i in pending}
            raise TimeoutError(f"{LABELS[name]} jobs not ended after {timeout:g} s: {going}; "
                               f"ended: {ends}")
        time.sleep(poll)


# --------------------------------------------------------------------------------------------
# Cancelling
# --------------------------------------------------------------------------------------------


def as_user(user: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run as ``user`` (``runuser``: we are root)."""
    return ["runuser", "-u", user, "--", *argv]


def cancel_command(name: str, job_id: str) -> list[str]:
    """What a user types to cancel a job: scancel / qdel / oardel (the OAR job's owner)."""
    if name == "slurm":
        return ["scancel", job_id]
    if name == "sge":
        return ["qdel", job_id]
    if name == "oar":
        return as_user(OAR_USER, ["oardel", job_id])
    raise ValueError(f"unknown scheduler {name!r}")


def cancel(name: str, job_id: str) -> None:
    """Cancel ``job_id`` with the scheduler's own command; RuntimeError when it fails."""
    proc = command(cancel_command(name, str(job_id)))
    if proc.returncode != 0:
        raise RuntimeError(f"cannot cancel {LABELS[name]} job {job_id}: {_said(proc)}")
    log.info("cancelled %s job %s: %s", name, job_id, proc.stdout.strip())
