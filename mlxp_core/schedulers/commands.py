"""Every scheduler command mlxp runs (no shell): submit, cancel, list, one job's record.

Call :func:`check_submit_command` before creating anything on disk, so that a head node without
the scheduler fails early with :class:`SubmitCommandNotFound`. What the commands are and how
their output reads is in each scheduler's description; this module only runs them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import asdict, dataclass
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from mlxp_core.schedulers.base import (
    JobTable,
    Scheduler,
    SubmitCommandNotFound,
    SubmitError,
    parse_job_id,
)

__all__ = [
    "JobState",
    "SubmitCommandNotFound",
    "SubmitError",
    "SubmitTimeout",
    "accounting",
    "active_ids",
    "array_limit",
    "cancel",
    "cancel_jobs",
    "cancelled_in",
    "check_submit_command",
    "job_info",
    "list_jobs",
    "parse_job_id",
    "submit",
]

logger = logging.getLogger(__name__)

SUBMIT_TIMEOUT_S = 120.0


def _which(scheduler: Scheduler, command: str, env: Optional[Mapping[str, str]]) -> str:
    search = (os.environ if env is None else env).get("PATH", os.defpath)
    found = shutil.which(command, path=search)
    if found is None:
        raise SubmitCommandNotFound(
            f"{scheduler.name}: command {command!r} not found on PATH ({search}); run on a "
            f"submit host of the cluster, or load the scheduler's environment module",
            command=command,
        )
    return found


def check_submit_command(scheduler: Scheduler, env: Optional[Mapping[str, str]] = None) -> str:
    """Absolute path of the submit command, or :class:`SubmitCommandNotFound`.

    ``env``: the environment whose ``PATH`` is searched (default ``os.environ``).
    """
    return _which(scheduler, scheduler.submit_command[0], env)


class SubmitTimeout(SubmitError):
    """A scheduler command did not answer in time; its whole process group was killed."""


def _time_left(timeout: float, deadline: Optional[float]) -> float:
    return timeout if deadline is None else min(timeout, deadline - time.monotonic())


def submit(scheduler: Scheduler, script_path: str, cwd: str,
           env: Optional[Mapping[str, str]] = None, timeout: float = SUBMIT_TIMEOUT_S,
           deadline: Optional[float] = None) -> str:
    """Submit ``script_path`` from directory ``cwd``; returns the job id the scheduler printed.

    ``env`` is the submit command's environment (default: inherited). ``deadline``
    (`time.monotonic()` value): the whole submission's end, shared by the calls of one sweep;
    the command gets what is left of it (at most ``timeout``). Raises
    :class:`SubmitCommandNotFound` when the command is missing, :class:`SubmitTimeout` when
    it does not answer in time (or the deadline has passed), :class:`SubmitError` when it
    fails (message: command, exit status, the scheduler's stderr) or prints no job id.
    """
    timeout = _time_left(timeout, deadline)
    if timeout <= 0:
        raise SubmitTimeout(f"{scheduler.name}: not submitted: the submission's deadline has "
                            "passed")
    executable = check_submit_command(scheduler, env)
    script = os.path.abspath(os.path.join(cwd, script_path))
    if not os.path.isdir(cwd):
        raise SubmitError(f"{scheduler.name}: submit directory {cwd!r} does not exist")
    if not os.path.isfile(script):
        raise SubmitError(f"{scheduler.name}: job script {script!r} does not exist")
    if scheduler.script_must_be_executable:
        _make_executable(script)
    argv = [executable, *scheduler.submit_command[1:]]
    shown = shlex.join([*scheduler.submit_command, script])
    if scheduler.submit_via_stdin:
        shown = f"{shlex.join(scheduler.submit_command)} < {shlex.quote(script)}"
        with open(script, "rb") as stdin:
            out = _run(scheduler, argv, shown, cwd, env, stdin, timeout)
    else:
        out = _run(scheduler, [*argv, script], shown, cwd, env, None, timeout)
    job_id = parse_job_id(scheduler, out.stdout, command=shown)
    logger.debug("%s: submitted %s as job %s", scheduler.name, script, job_id)
    return job_id


def cancel(scheduler: Scheduler, job_id: str, env: Optional[Mapping[str, str]] = None,
           timeout: float = SUBMIT_TIMEOUT_S) -> None:
    """Cancel ``job_id`` with the scheduler's cancel command; :class:`SubmitError` if it fails."""
    executable = _which(scheduler, scheduler.cancel_command[0], env)
    argv = [executable, *scheduler.cancel_command[1:], str(job_id)]
    shown = shlex.join([*scheduler.cancel_command, str(job_id)])
    _run(scheduler, argv, shown, None, env, None, timeout)
    logger.debug("%s: cancelled job %s", scheduler.name, job_id)


def _make_executable(path: str) -> None:
    mode = os.stat(path).st_mode
    wanted = mode | stat.S_IXUSR | (stat.S_IXGRP if mode & stat.S_IRGRP else 0) | (
        stat.S_IXOTH if mode & stat.S_IROTH else 0)
    if wanted != mode:
        os.chmod(path, wanted)


def _run(scheduler: Scheduler, argv: list[str], shown: str, cwd: Optional[str],
         env: Optional[Mapping[str, str]], stdin: Optional[IO[bytes]],
         timeout: float) -> subprocess.CompletedProcess[str]:
    """Run one scheduler command in its own session; on timeout its whole process group is
    killed (a hung `sbatch` and anything it started), never left orphaned."""
    logger.debug("%s: running %s (cwd=%s)", scheduler.name, shown, cwd)
    full_env = dict(os.environ if env is None else env)
    if cwd is not None:
        # OAR takes the job's directory from $PWD, not from the process's working directory
        full_env["PWD"] = os.path.abspath(cwd)
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise SubmitCommandNotFound(f"{scheduler.name}: cannot run `{shown}`: {exc}",
                                    command=shown) from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException as exc:  # timeout, or Ctrl-C of the head: the command goes too
        _kill_group(proc)
        if isinstance(exc, subprocess.TimeoutExpired):
            raise SubmitTimeout(
                f"{scheduler.name}: `{shown}` did not answer within {timeout:.1f} s; it was "
                "killed (with its process group)", command=shown) from None
        raise
    out = subprocess.CompletedProcess(
        argv, proc.returncode, _decode(stdout), _decode(stderr))
    if out.returncode != 0:
        said = out.stderr.strip() or out.stdout.strip() or "(no output)"
        raise SubmitError(
            f"{scheduler.name}: `{shown}` failed with exit status {out.returncode}: {said}",
            command=shown, returncode=out.returncode, stdout=out.stdout, stderr=out.stderr,
        )
    return out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


_LEADING_ID = re.compile(r"\s*(\d+)")


def base_id(job_id: str) -> str:
    """The leading number of a job id (`12` of `12.server`, `12_3`, `12[3]`)."""
    match = _LEADING_ID.match(job_id)
    return match.group(1) if match else job_id


def active_ids(scheduler: Scheduler) -> Optional[Set[str]]:
    """Base ids the scheduler still lists as queued or running; None if it cannot tell."""
    if not scheduler.active_command:
        return None
    try:
        out = subprocess.run(list(scheduler.active_command), capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("mlxp: %s failed: %s", scheduler.active_command, exc)
        return None
    if out.returncode != 0:
        logger.debug("mlxp: %s exited %s: %s", scheduler.active_command, out.returncode,
                     out.stderr)
        return None
    ids = set()
    for line in out.stdout.splitlines():
        if set(line.split()) & set(scheduler.finished_states):
            continue
        match = _LEADING_ID.match(line)
        if match:
            ids.add(match.group(1))
    return ids


def job_info(scheduler: Scheduler, job_id: str) -> Optional[str]:
    """What the scheduler's `job_info_command` prints about one job; None if it cannot tell."""
    if not scheduler.job_info_command:
        return None
    argv = [w.replace("{id}", job_id) for w in scheduler.job_info_command]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("mlxp: %s failed: %s", argv, exc)
        return None
    return out.stdout


def cancelled_in(scheduler: Scheduler, info_text: Optional[str]) -> bool:
    """Whether `info_text` (from :func:`job_info`) says a user deleted the job."""
    return bool(info_text and scheduler.cancelled_pattern
                and re.search(scheduler.cancelled_pattern, info_text))


def was_cancelled(scheduler: Scheduler, job_id: Optional[str]) -> bool:
    """Ask the scheduler whether job `job_id` was deleted by a user (one call)."""
    return bool(job_id) and cancelled_in(scheduler, job_info(scheduler, str(job_id)))


# --------------------------------------------------------------------------------------------
# Operating a sweep: one listing call, batched accounting, one cancel call, array limits
# --------------------------------------------------------------------------------------------

PENDING, RUNNING, ENDED = "PENDING", "RUNNING", "ENDED"
QUERY_TIMEOUT_S = 120.0
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGTP]?)i?B?[nc]?\s*$", re.IGNORECASE)
_SIZE_MB = {"": 1.0, "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2, "P": 1024.0**3}
_GPUS = re.compile(r"gpu(?:[:/][\w.-]+)*?[:=](\d+)", re.IGNORECASE)
_acct_off: Set[str] = set()  # schedulers whose accounting said it is disabled


@dataclass
class JobState:
    """One job or array task as the scheduler reports it (units: seconds, MiB)."""

    own_id: str  # the id the scheduler knows it by (`123_4`, `13.2`, OAR's task job id)
    job_id: str  # the submitted (array) job's id, as mlxp records it in submit.job_id
    task: Optional[str]  # array task index, None for a single job
    state: str  # the scheduler's own word(s)
    phase: str  # PENDING, RUNNING or ENDED
    reason: Optional[str] = None  # why it waits (listing), or how it ended (mlxp's word)
    node: Optional[str] = None
    elapsed_s: Optional[float] = None
    time_limit_s: Optional[float] = None
    req_mem_mb: Optional[float] = None
    cpus: Optional[int] = None
    gpus: Optional[int] = None
    cpu_s: Optional[float] = None
    max_rss_mb: Optional[float] = None
    exit_code: Optional[str] = None

    @property
    def key(self) -> Tuple[str, Optional[str]]:
        return (self.job_id, self.task)

    def to_dict(self) -> Dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def seconds(text: Any) -> Optional[float]:
    """Seconds of `[D-]HH:MM:SS[.fff]`, `MM:SS`, `12s`, `12.5`, `12 second(s)`; None if none."""
    if text is None:
        return None
    value = str(text).strip()
    if not value or value.upper() in ("UNLIMITED", "INVALID", "N/A", "NONE", "-", "UNDEFINED"):
        return None
    days = 0
    if "-" in value and ":" in value:
        head, _, value = value.partition("-")
        if not head.isdigit():
            return None
        days = int(head)
    if ":" in value:
        try:
            parts = [float(p) for p in value.split(":")]
        except ValueError:
            return None
        total = 0.0
        for part in parts:
            total = total * 60 + part
        return days * 86400 + total
    match = _NUMBER.search(value)
    return float(match.group(1)) if match else None


def megabytes(text: Any) -> Optional[float]:
    """MiB of `4G`, `100M`, `4.8MB`, `1234K`, `4Gn` (SLURM per node), a bare number = MiB."""
    if text is None:
        return None
    match = _SIZE.search(str(text).strip())
    if not match:
        return None
    value = float(match.group(1)) * _SIZE_MB[match.group(2).upper()]
    return round(value, 3) if value else None


def _integer(text: Any) -> Optional[int]:
    match = _NUMBER.search(str(text)) if text is not None else None
    return int(float(match.group(1))) if match else None


def _plain(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return " ".join(str(v.get("type", "")) for v in value)
        return ",".join(str(v) for v in value)
    return str(value)


def _rows(table: JobTable, text: str) -> List[Dict[str, Optional[str]]]:
    """The records of a command's output, as `{our field name: text}`."""
    names = [ours for ours, _ in table.fields]
    rows: List[Dict[str, Optional[str]]] = []
    if table.kind in ("delimited", "whitespace"):
        for line in text.splitlines()[table.skip:]:
            if not line.strip():
                continue
            parts = line.split(table.separator) if table.kind == "delimited" else line.split()
            if len(parts) >= len(names):
                rows.append(dict(zip(names, (p.strip() for p in parts))))
    elif table.kind == "json":
        data = json.loads(text) if text.strip() else {}
        records = data.values() if isinstance(data, dict) else data
        for record in records:
            if isinstance(record, dict):
                rows.append({ours: _plain(record.get(theirs)) for ours, theirs in table.fields})
    elif table.kind == "xml":
        import xml.etree.ElementTree as ET

        root = ET.fromstring(text) if text.strip() else None
        for element in root.iter(table.record) if root is not None else ():
            rows.append({ours: (element.findtext(theirs) or element.get(theirs))
                         for ours, theirs in table.fields})
    elif table.kind == "blocks":
        for chunk in re.split(table.record, text, flags=re.MULTILINE):
            values: Dict[str, str] = {}
            for line in chunk.splitlines():
                key, _, value = line.strip().partition(" ")
                if key:
                    values[key] = value.strip()
            if values:
                rows.append({ours: values.get(theirs) for ours, theirs in table.fields})
    else:
        raise ValueError(f"unknown job table kind {table.kind!r}")
    return rows


def expand_tasks(spec: Optional[str]) -> List[Optional[str]]:
    """Task indexes of `5`, `1-4:1`, `[2-9%3]`, `1,3,5-7` (SGE / SLURM pending arrays)."""
    if spec is None:
        return [None]
    text = spec.strip().strip("[]").split("%", 1)[0]
    if not text or text.lower() in ("undefined", "n/a"):
        return [None]
    out: List[Optional[str]] = []
    for part in text.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if not match:
            return [None]
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        out += [str(i) for i in range(first, last + 1, int(match.group(3) or 1))]
    return out


def _states(scheduler: Scheduler, row: Dict[str, Optional[str]]) -> List[JobState]:
    own = row.get("own_id")
    if own is not None and not own.strip():
        own = None
    job_id, task = row.get("job_id"), row.get("task")
    if job_id is None and own is not None:
        match = re.match(scheduler.id_pattern + r"(?:_\[(?P<range>[\d,:%-]+)\])?", own)
        if not match:
            return []
        job_id = match.group("job_id")
        groups = match.groupdict()
        task = groups.get("task") or groups.get("range")
    if job_id is None:
        return []
    job_id = base_id(job_id)
    if task is not None and task.strip() in scheduler.env.task_unset:
        task = None  # LSF's 0, SGE's undefined: not an array task
    state = (row.get("state") or "").strip()
    word = state.split()[0] if state else ""
    if row.get("failed") is not None:  # Grid Engine's qacct
        state = f"failed {row['failed']}".strip()
    phase = (PENDING if word in scheduler.pending_states
             else RUNNING if word in scheduler.running_states else ENDED)
    reason = row.get("reason") or None
    if phase == ENDED:
        text = state
        if row.get("exit_code") not in (None, ""):
            text += f" exit {row['exit_code']}"
        if row.get("events"):
            text += f" {row['events']}"
        reason = next((name for pattern, name in scheduler.end_reasons
                       if re.search(pattern, text)), None)
    elapsed = seconds(row.get("elapsed"))
    if elapsed is None and row.get("start") and row.get("end"):
        start, end = _integer(row["start"]), _integer(row["end"])
        if start and end and end >= start:
            elapsed = float(end - start)
    req = row.get("req") or ""  # SGE's category: -l h_rt=180,h_vmem=1G
    limit = seconds(row.get("time_limit"))
    mem = megabytes(row.get("req_mem"))
    if req:
        found = re.search(r"h_rt=(\d+)", req)
        limit = float(found.group(1)) if found else limit
        found = re.search(r"h_vmem=([\w.]+)", req)
        mem = megabytes(found.group(1)) if found else mem
    gpus = _GPUS.search(row.get("gpus") or "")
    out = []
    for index in expand_tasks(task) if task is not None else [None]:
        own_id = own if own is not None and (task is None or own != job_id or index is None) \
            else None
        if own_id is None or (index is not None and task is not None and "-" in task):
            own_id = (scheduler.task_id_format.format(job=job_id, task=index)
                      if index is not None and scheduler.task_id_format else (own or job_id))
        out.append(JobState(
            own_id=own_id, job_id=job_id, task=index, state=state, phase=phase, reason=reason,
            node=(row.get("node") or None) if row.get("node") not in ("(null)", "None", "")
            else None,
            elapsed_s=elapsed, time_limit_s=limit, req_mem_mb=mem,
            cpus=_integer(row.get("cpus")), gpus=int(gpus.group(1)) if gpus else None,
            cpu_s=seconds(row.get("cpu_time")), max_rss_mb=megabytes(row.get("max_rss")),
            exit_code=row.get("exit_code") or None))
    return out


def parse_jobs(scheduler: Scheduler, table: JobTable, text: str) -> List[JobState]:
    """Every job or task in a listing / accounting output (steps folded into their job)."""
    states: Dict[str, JobState] = {}
    steps: List[JobState] = []
    for row in _rows(table, text):
        for state in _states(scheduler, row):
            if table.steps and "." in state.own_id:
                steps.append(state)  # SLURM's 123.batch, 123_4.extern, 123.0
            else:
                states[state.own_id] = state
    for step in steps:
        parent = states.get(step.own_id.split(".", 1)[0])
        if parent is None:
            continue
        if step.max_rss_mb and (parent.max_rss_mb or 0) < step.max_rss_mb:
            parent.max_rss_mb = step.max_rss_mb
        if parent.cpu_s is None:
            parent.cpu_s = step.cpu_s
    return list(states.values())


def _query(argv: List[str]) -> Optional[subprocess.CompletedProcess[str]]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=QUERY_TIMEOUT_S,
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("mlxp: `%s` failed: %s", shlex.join(argv), exc)
        return None


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def list_jobs(scheduler: Scheduler, user: Optional[str] = None) -> Optional[List[JobState]]:
    """Every job of `user` the scheduler lists now, in ONE call; None if it cannot tell."""
    if not scheduler.list_command or scheduler.list_table is None:
        return None
    who = user or _user()
    argv = [w.replace("{user}", who) for w in scheduler.list_command]
    out = _query(argv)
    if out is None or out.returncode != 0:
        if out is not None:
            logger.warning("mlxp: `%s` exited %s: %s", shlex.join(argv), out.returncode,
                           out.stderr.strip()[:500])
        return None
    try:
        return parse_jobs(scheduler, scheduler.list_table, out.stdout)
    except ValueError as exc:  # json / xml that does not parse
        logger.warning("mlxp: cannot read the output of `%s`: %s", shlex.join(argv), exc)
        return None


def accounting(scheduler: Scheduler, job_ids: Sequence[str], since: Optional[float] = None,
               user: Optional[str] = None) -> Optional[List[JobState]]:
    """What the scheduler's accounting says about these ended jobs, in ONE call.

    None when it has no accounting (or it is disabled: then never asked again by this
    process). `since`: epoch seconds of the earliest submission among them (`qacct -b`).
    """
    if (not scheduler.acct_command or scheduler.acct_table is None or not job_ids
            or scheduler.name in _acct_off):
        return None
    ids = list(dict.fromkeys(job_ids))
    when = time.strftime(scheduler.acct_since_format or "%Y%m%d%H%M",
                         time.localtime((since or time.time()) - 120))
    argv: List[str] = []
    for word in scheduler.acct_command:
        word = word.replace("{user}", user or _user()).replace("{since}", when)
        argv.append(word.replace("{ids}", scheduler.acct_join.join(ids)))
    if scheduler.acct_id_option:
        for job_id in ids:
            argv += [scheduler.acct_id_option, job_id]
    out = _query(argv)
    if out is None:
        return None
    said = out.stdout + out.stderr
    if scheduler.acct_disabled_pattern and re.search(scheduler.acct_disabled_pattern, said):
        _acct_off.add(scheduler.name)
        logger.info("mlxp: %s accounting is disabled: %s", scheduler.name, said.strip()[:200])
        return None
    if out.returncode != 0:
        if not out.stdout.strip():
            return []  # nothing recorded yet (qacct: "error: job id ... not found")
        logger.warning("mlxp: `%s` exited %s: %s", shlex.join(argv[:8]), out.returncode,
                       out.stderr.strip()[:500])
        return None
    try:
        return [s for s in parse_jobs(scheduler, scheduler.acct_table, out.stdout)
                if s.phase == ENDED]
    except ValueError as exc:
        logger.warning("mlxp: cannot read the accounting output: %s", exc)
        return None


def cancel_jobs(scheduler: Scheduler, job_ids: Sequence[str]) -> Tuple[bool, str]:
    """ONE cancel command for every id in `job_ids`; (succeeded, what it said)."""
    if not job_ids:
        return True, ""
    argv = [*scheduler.cancel_command, *job_ids]
    out = _query(argv)
    if out is None:
        return False, f"cannot run {scheduler.cancel_command[0]}"
    said = (out.stdout + out.stderr).strip()
    return out.returncode == 0, said


def array_limit(scheduler: Scheduler) -> Optional[int]:
    """The most tasks one array may have on this cluster (from its configuration); None if
    there is no limit or it cannot be read. SLURM's MaxArraySize caps the index, so with
    indexes from 0 an array holds at most MaxArraySize tasks."""
    if not scheduler.array_limit_command:
        return None
    out = _query(list(scheduler.array_limit_command))
    if out is None or out.returncode != 0:
        return None
    found = re.search(scheduler.array_limit_pattern, out.stdout, re.MULTILINE)
    if not found or int(found.group(1)) <= 0:
        return None
    value = int(found.group(1))
    if scheduler.array_limit_caps_index:
        first = scheduler.array.min_index if scheduler.array else 0
        return max(1, value - first)
    return value


def max_node_gpus(scheduler: Scheduler) -> Optional[int]:
    """The most GPUs one node of the cluster has (`node_gpus_command`, one call); None when
    the scheduler has no such command or it cannot be read (then nothing is checked)."""
    if not scheduler.node_gpus_command:
        return None
    out = _query(list(scheduler.node_gpus_command))
    if out is None or out.returncode != 0:
        return None
    counts = [int(m.group("gpus")) for m in re.finditer(scheduler.node_gpus_pattern, out.stdout)]
    return max(counts, default=0)


def local_gpus() -> int:
    """The GPUs this machine offers: `CUDA_VISIBLE_DEVICES` if set, else `nvidia-smi -L`."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    out = _query(["nvidia-smi", "-L"])
    if out is None or out.returncode != 0:
        return 0
    return len([line for line in out.stdout.splitlines() if line.startswith("GPU ")])
