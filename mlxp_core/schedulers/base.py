"""The declarative description of a batch scheduler, and the helpers every description shares.

A :class:`Scheduler` is plain data: its directive prefix, its submit and cancel commands, how it
spells a job name, an output file or an array, the regular expression that finds the job id in
what the submit command prints, and the environment variables a job sees. The only code a
description carries is ``resource_lines``, a small function that turns the generic resource
fields (:class:`Resources`) into the scheduler's own directive lines.

Generic resource fields (see :func:`parse_resources`):

* ``partition`` (alias ``queue``): the partition / queue / class.
* ``account``: the account or project charged for the job.
* ``nodes``: number of nodes.
* ``cpus``: CPUs (cores) for the single task of the job, on one node.
* ``gpus``: number of GPUs.
* ``mem``: memory of the job on its node, e.g. ``'4G'``, ``'512M'``; a bare number means MiB.
  Schedulers that count memory per slot or per process get the value converted or documented in
  their module.
* ``time``: walltime, ``'HH:MM:SS'``, ``'D-HH:MM:SS'`` or a number of minutes.
* ``tasks_per_node``, ``gpus_per_task`` (``cpus_per_task`` is an alias of ``cpus``): several
  processes per job; each module renders the per-node totals (docs/distributed.md).
* ``signal_before_walltime_s``: the scheduler warns the job that many seconds before the
  walltime (SLURM ``--signal``, SGE ``s_rt``, OAR ``--checkpoint`` ...; see each module).

Only the standard library is imported: this module is loaded on every Hydra start.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Optional, Sequence

from mlxp_core.errors import MLXPError

__all__ = [
    "ArraySyntax",
    "JobEnv",
    "JobSpecError",
    "JobTable",
    "Resources",
    "Scheduler",
    "SubmitCommandNotFound",
    "SubmitError",
    "format_hm",
    "format_hms",
    "format_mem",
    "parse_job_id",
    "parse_mem",
    "parse_resources",
    "parse_time",
    "requested",
    "unsupported",
]


class JobSpecError(MLXPError, ValueError):
    """A job cannot be expressed for this scheduler (bad or unsupported field)."""


class SubmitError(MLXPError):
    """A scheduler command failed, or its output could not be understood.

    ``command`` is the command line that ran (a string), ``returncode``, ``stdout`` and
    ``stderr`` what it returned (``None`` / empty when it did not run).
    """

    def __init__(
        self,
        message: str,
        *,
        command: Optional[str] = None,
        returncode: Optional[int] = None,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class SubmitCommandNotFound(SubmitError):
    """The scheduler's command is not on ``PATH`` (not a submit host, or module not loaded)."""


# --------------------------------------------------------------------------------------------
# Generic resources
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """Generic resource request, validated and normalised (``None``: not requested)."""

    partition: Optional[str] = None
    account: Optional[str] = None
    nodes: Optional[int] = None
    cpus: Optional[int] = None
    gpus: Optional[int] = None
    mem_kib: Optional[int] = None
    time_s: Optional[int] = None
    # several processes per job (srun, mpirun, torchrun): tasks on each node, GPUs per task
    tasks_per_node: Optional[int] = None
    gpus_per_task: Optional[int] = None
    # the scheduler warns the job this many seconds before its walltime (see each module)
    signal_before_s: Optional[int] = None

    @property
    def node_tasks(self) -> int:
        """Tasks on each node (1 unless `tasks_per_node`)."""
        return self.tasks_per_node or 1

    @property
    def node_cpus(self) -> Optional[int]:
        """CPUs of each node: `cpus` (per task) times the tasks; None if neither is given."""
        if self.tasks_per_node is None:
            return self.cpus
        return self.tasks_per_node * (self.cpus or 1)

    @property
    def node_gpus(self) -> Optional[int]:
        """GPUs of each node: `gpus`, or `gpus_per_task` times the tasks."""
        if self.gpus_per_task is not None:
            return self.gpus_per_task * self.node_tasks
        return self.gpus


RESOURCE_FIELDS = ("partition", "account", "nodes", "cpus", "gpus", "mem", "time",
                   "tasks_per_node", "gpus_per_task", "signal_before_walltime_s")
RESOURCE_ALIASES = {"queue": "partition", "cpus_per_task": "cpus"}

_TIME_RE = re.compile(r"(?:(\d+)-)?(\d+):(\d\d):(\d\d)")
_MEM_RE = re.compile(r"(\d+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)
_MEM_FACTORS = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
_WORD_RE = re.compile(r"[^\s\"'#]+")


def parse_time(value: Any) -> int:
    """Walltime in seconds from ``'HH:MM:SS'``, ``'D-HH:MM:SS'`` or minutes (int or digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise JobSpecError(f"resource 'time': expected 'HH:MM:SS' or a number of minutes, "
                           f"got {value!r}")
    text = str(value).strip()
    if text.isdigit():
        seconds = int(text) * 60
    else:
        match = _TIME_RE.fullmatch(text)
        if not match:
            hint = " (two fields are ambiguous: write 'HH:MM:SS')" if text.count(":") == 1 else ""
            raise JobSpecError(f"resource 'time': cannot read {value!r}; expected 'HH:MM:SS', "
                               f"'D-HH:MM:SS' or a number of minutes{hint}")
        days, hours, minutes, secs = match.groups()
        if int(minutes) >= 60 or int(secs) >= 60:
            raise JobSpecError(f"resource 'time': minutes and seconds must be below 60 in "
                               f"{value!r}")
        seconds = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(secs)
    if seconds <= 0:
        raise JobSpecError(f"resource 'time': must be positive, got {value!r}")
    return seconds


def parse_mem(value: Any) -> int:
    """Memory in KiB from ``'4G'``, ``'4GB'``, ``'512M'``, ``'1T'``, ``'100K'`` or MiB (int)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise JobSpecError(f"resource 'mem': expected a size such as '4G' or a number of MiB, "
                           f"got {value!r}")
    match = _MEM_RE.fullmatch(str(value).strip())
    if not match:
        raise JobSpecError(f"resource 'mem': cannot read {value!r}; expected a size such as "
                           f"'4G', '512M' or a number of MiB")
    amount, unit = int(match.group(1)), (match.group(2).upper() or "M")
    if amount <= 0:
        raise JobSpecError(f"resource 'mem': must be positive, got {value!r}")
    return amount * _MEM_FACTORS[unit]


def _parse_count(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JobSpecError(f"resource {name!r}: expected a positive integer, got {value!r}")
    return value


def _parse_word(name: str, value: Any) -> str:
    text = str(value)
    if not _WORD_RE.fullmatch(text):
        raise JobSpecError(f"resource {name!r}: expected one word without spaces, quotes or "
                           f"'#', got {value!r}")
    return text


def parse_resources(values: Mapping[str, Any]) -> Resources:
    """Validate the generic resource fields; ``None`` values are skipped.

    Unknown names, a field given twice (``queue`` and ``partition``) and malformed values raise
    :class:`JobSpecError`.
    """
    canonical: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = RESOURCE_ALIASES.get(key, key)
        if name not in RESOURCE_FIELDS:
            valid = ", ".join(sorted({*RESOURCE_FIELDS, *RESOURCE_ALIASES}))
            raise JobSpecError(f"unknown resource {key!r}; valid resources: {valid}")
        if name in canonical:
            alias = next(a for a, n in RESOURCE_ALIASES.items() if n == name)
            raise JobSpecError(f"resource {name!r} given twice (as {alias!r} and {name!r})")
        canonical[name] = value
    parsed: dict[str, Any] = {}
    for name, value in canonical.items():
        if name in ("partition", "account"):
            parsed[name] = _parse_word(name, value)
        elif name in ("nodes", "cpus", "gpus", "tasks_per_node", "gpus_per_task"):
            parsed[name] = _parse_count(name, value)
        elif name == "signal_before_walltime_s":
            parsed["signal_before_s"] = _parse_count(name, value)
        elif name == "mem":
            parsed["mem_kib"] = parse_mem(value)
        else:
            parsed["time_s"] = parse_time(value)
    if "gpus" in parsed and "gpus_per_task" in parsed:
        raise JobSpecError("resources 'gpus' (per job) and 'gpus_per_task' both given; keep one")
    before, walltime = parsed.get("signal_before_s"), parsed.get("time_s")
    if before is not None and walltime is not None and before >= walltime:
        raise JobSpecError(f"resource 'signal_before_walltime_s' ({before} s) must be shorter "
                           f"than the walltime 'time' ({walltime} s)")
    return Resources(**parsed)


def format_hms(seconds: int) -> str:
    """``HH:MM:SS`` (hours may exceed 24)."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def format_hm(seconds: int) -> str:
    """``H:MM``, seconds rounded up to the next minute (LSF's ``-W``)."""
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    return f"{hours}:{minutes:02d}"


def format_mem(kib: int, units: Sequence[str] = ("K", "M", "G", "T")) -> str:
    """The largest unit among KiB, MiB, GiB, TiB that expresses ``kib`` exactly."""
    value, index = kib, 0
    while index + 1 < len(units) and value % 1024 == 0:
        value, index = value // 1024, index + 1
    return f"{value}{units[index]}"


def unsupported(scheduler: str, field: str, hint: str = "") -> JobSpecError:
    """The error for a resource the scheduler cannot express (to be raised by the caller)."""
    extra = f"; {hint}" if hint else ""
    return JobSpecError(f"scheduler {scheduler!r} cannot express resource {field!r}{extra}")


def requested(res: Resources) -> list[str]:
    """Names of the generic fields set in ``res`` (for error messages)."""
    names = {"mem_kib": "mem", "time_s": "time", "signal_before_s": "signal_before_walltime_s"}
    return [names.get(f.name, f.name) for f in fields(res) if getattr(res, f.name) is not None]


# --------------------------------------------------------------------------------------------
# The description
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArraySyntax:
    """How a scheduler spells a job array.

    ``format`` may use ``{first}``, ``{last}``, ``{count}``, ``{name}`` and ``{limit}``; the
    limit (maximum number of tasks running at once) is ``limit_format.format(max=N)``, put in
    place of ``{limit}`` when ``limit_inline`` is true, else on a directive line of its own.
    ``limit_format`` ``None``: the scheduler has no such limit. ``in_job_name``: the array is
    part of the job name directive (LSF), which then replaces the name line.
    ``min_index``: smallest task index the scheduler accepts; ``start``: the only first index
    it can number from (OAR always numbers 1..N). ``id_brackets``: what ``[<index>]`` in a task's
    job id becomes in the array's id (``'[]'`` for TORQUE's ``123[].server``, ``''`` for Moab).
    """

    format: str
    limit_format: Optional[str] = None
    limit_inline: bool = True
    min_index: int = 1
    start: Optional[int] = None
    in_job_name: bool = False
    id_brackets: str = ""
    # the scheduler lists each task under its own job id, not under the array's (OAR)
    tasks_listed_by_own_id: bool = False


@dataclass(frozen=True)
class JobEnv:
    """The environment variables that identify a job, as seen inside it (priority order).

    ``task_unset`` lists task-index values that mean "not an array job" (SGE ``undefined``,
    LSF ``0``). ``requires_any``: the job id variable only counts when one of these is also set
    (SGE's ``JOB_ID`` is too generic a name on its own).
    """

    job_id: tuple[str, ...]
    array_job_id: tuple[str, ...] = ()
    array_task: tuple[str, ...] = ()
    task_unset: tuple[str, ...] = ()
    requires_any: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobTable:
    """How the output of a listing or accounting command reads (parsed by ``commands``).

    ``kind``: ``delimited`` (one job per line, fields split on ``separator``), ``whitespace``
    (fields split on blanks; ``skip`` header lines), ``json`` (an object of job records keyed
    by job id, or a list of them), ``xml`` (one element ``record`` per job; a field is a
    child's text or an attribute) or ``blocks`` (``key value`` lines, jobs separated by lines
    matching ``record``).
    ``fields``: ``(our name, the scheduler's column / key)`` pairs (``delimited`` and
    ``whitespace``: the columns in order, the scheduler's names are only documentation).
    Our names: ``own_id`` (the id the scheduler knows this job or task by), ``job_id``,
    ``task`` (array task index, or a range ``1-4:1``), ``state``, ``reason``, ``node``,
    ``elapsed``, ``time_limit``, ``req_mem``, ``cpus``, ``gpus`` (a text holding ``gpu...N``),
    ``cpu_time``, ``max_rss``, ``exit_code``, ``failed`` (SGE), ``start``, ``end`` (epoch
    seconds), ``events`` (OAR). Sizes are read with units (``4G``, ``4.8MB``, ``1234K``);
    times as ``[D-]HH:MM:SS``, ``MM:SS`` or seconds (``2s``, ``0.011``).
    """

    kind: str
    fields: tuple[tuple[str, str], ...]
    separator: str = "|"
    skip: int = 0
    record: str = ""
    # rows whose id is `<job>.<step>` are steps of that job (SLURM's `123.batch`): their
    # peak memory and CPU time are folded into the job's row
    steps: bool = False


@dataclass(frozen=True)
class Scheduler:
    """One batch scheduler, described declaratively (see the module docstring)."""

    name: str
    directive: str  # '#SBATCH'
    submit_command: tuple[str, ...]  # ('sbatch',); the script path is appended
    cancel_command: tuple[str, ...]  # ('scancel',); the job id is appended
    job_id_pattern: str  # regex with a named group job_id, searched with re.MULTILINE
    job_name_format: str  # '--job-name={}'
    stdout_format: str
    stderr_format: str
    resource_lines: Callable[[Resources], list[str]]  # generic resources -> directive texts
    env: JobEnv
    array: Optional[ArraySyntax] = None
    submit_via_stdin: bool = False  # `bsub < script`
    script_must_be_executable: bool = False  # OAR runs the script file itself
    directive_quoting: bool = False  # directive values may be "double quoted"
    job_name_forbidden: str = ""  # characters replaced by '_' in job names
    default_directives: tuple[str, ...] = ()  # always rendered, before the user's directives
    extra_prefixes: tuple[str, ...] = ()  # other prefixes it reads (Moab reads '#PBS')
    single_line_option: Optional[str] = None  # option that must appear on one line only (OAR -l)
    job_id_placeholder: Optional[str] = None  # in output paths, e.g. '%j'
    array_index_placeholder: Optional[str] = None  # in output paths, e.g. '%a'
    aliases: tuple[str, ...] = ()
    # signals the scheduler sends a job shortly before killing it (besides SIGTERM)
    notify_signals: tuple[str, ...] = ()
    # lists the jobs it still knows (their ids lead the lines); lines holding one of
    # `finished_states` as a word are jobs that ended
    active_command: tuple[str, ...] = ()
    finished_states: tuple[str, ...] = ()
    # shows one ended job ('{id}' is replaced); output matching `cancelled_pattern` means
    # the job was deleted by a user (recorded INTERRUPTED when the job could not say so)
    job_info_command: tuple[str, ...] = ()
    cancelled_pattern: str = ""
    # a directive asking the scheduler to run a command on the submit host when a job ends
    # abnormally (OAR's `--notify [ERROR]exec:...`); '{command}' is replaced by mlxp's
    # recorder (`python -m mlxp_core.endnotice ...`), rendered only when that command fully
    # matches `end_notice_chars` (the characters the scheduler accepts there)
    end_notice_format: str = ""
    end_notice_chars: str = ""
    # -- operating a sweep (`mlxp status/cancel/rerun`): one listing call per refresh ------
    # every job of the user, queued, running (and, where the scheduler keeps them listed a
    # while, recently ended): '{user}' is replaced by the user name
    list_command: tuple[str, ...] = ()
    list_table: Optional[JobTable] = None
    # ended jobs, many at once: '{ids}' is replaced by the ids joined with `acct_join`, or
    # each id is given after `acct_id_option` ('-j 1 -j 2'); '{since}' by the earliest submit
    # time as `acct_since_format` (strftime) for schedulers that select by time (qacct)
    acct_command: tuple[str, ...] = ()
    acct_table: Optional[JobTable] = None
    acct_join: str = ","
    acct_id_option: str = ""
    acct_since_format: str = ""
    # output that means the accounting is off (then no call is made again in this process)
    acct_disabled_pattern: str = ""
    # how a job's id and task index read from one id (`123_4`, `123[4].server`): named
    # groups job_id and task; `task_id_format`: the id of one task ({job}, {task})
    id_pattern: str = r"(?P<job_id>\d+)"
    task_id_format: str = ""
    # states (the scheduler's words) of jobs that wait, and of jobs that run; any other
    # listed state is an ending
    pending_states: tuple[str, ...] = ()
    running_states: tuple[str, ...] = ()
    # (regex searched in the ended job's state text, mlxp's reason): first match wins;
    # reasons: COMPLETED, FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED, PREEMPTED
    end_reasons: tuple[tuple[str, str], ...] = ()
    # the largest array the cluster takes: a command and a regex with one group (the number);
    # `array_limit_caps_index`: the limit caps the task INDEX (SLURM: max index = limit - 1),
    # else the number of tasks (SGE); 0 in the output means no limit
    array_limit_command: tuple[str, ...] = ()
    array_limit_pattern: str = ""
    array_limit_caps_index: bool = False
    # -- several tasks, walltime warning, requeue (docs/distributed.md) -------------------
    # what starts a job's command once per task when it has more than one task ({tasks},
    # {tasks_per_node}, {nodes}, {python} are replaced); `hydra.launcher.task_launcher` wins
    task_launcher: str = "mpirun -np {tasks}"
    # the signal the walltime warning (`signal_before_walltime_s`) arrives as; '' : the
    # scheduler has none, mlxp's own timer raises SIGALRM at `time` - N (needs `time`)
    warning_signal: str = ""
    # how a warned job requeues itself: a command ('{job_id}': the job's own id), or
    # exiting with `requeue_exit_status`; neither: it cannot (ends INTERRUPTED, not requeued)
    requeue_command: tuple[str, ...] = ()
    requeue_exit_status: Optional[int] = None
    # the largest number of GPUs on one node ('{partition}' replaced; empty: not checked
    # before submitting): a command, and a regex whose group `gpus` is one node's count
    node_gpus_command: tuple[str, ...] = ()
    node_gpus_pattern: str = ""
    # -- a job that starts after others have ended, whatever their outcome (mlxpsub's
    # non-mlxp python lines): a directive text where '{ids}' is replaced by the job ids, each
    # written as `dependency_item` ('{id}' replaced) and joined by `dependency_join`;
    # '' : the scheduler has no dependencies. `dependency_per_job`: one directive per job
    # (OAR reads one option per `#OAR` line)
    dependency_format: str = ""
    dependency_item: str = "{id}"
    dependency_join: str = ":"
    dependency_per_job: bool = False

    def dependency_directives(self, job_ids: Sequence[str]) -> list[str]:
        """The directive texts making a job wait for the end of ``job_ids`` ([]: none)."""
        if not self.dependency_format or not job_ids:
            return []
        items = [self.dependency_item.format(id=i) for i in job_ids]
        if self.dependency_per_job:
            return [self.dependency_format.format(ids=item) for item in items]
        return [self.dependency_format.format(ids=self.dependency_join.join(items))]

    def line(self, text: str) -> str:
        """A directive line: prefix, one space, ``text``."""
        return f"{self.directive} {text}"

    def job_from_env(self, environ: Mapping[str, str]) -> Optional[dict[str, Optional[str]]]:
        """``{name, job_id, array_job_id, array_task_id}`` when ``environ`` is one of its jobs."""
        job_id = _first(environ, self.env.job_id)
        if job_id is None:
            return None
        if self.env.requires_any and not any(v in environ for v in self.env.requires_any):
            return None
        task = _first(environ, self.env.array_task)
        if task in self.env.task_unset:
            task = None
        array_id = None
        if task is not None:
            array_id = _first(environ, self.env.array_job_id) or self._array_id_of(job_id)
        return {"name": self.name, "job_id": job_id, "array_job_id": array_id,
                "array_task_id": task}

    def _array_id_of(self, job_id: str) -> str:
        brackets = self.array.id_brackets if self.array else ""
        return re.sub(r"\[\d+\]", brackets, job_id, count=1)


def _first(environ: Mapping[str, str], names: Sequence[str]) -> Optional[str]:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def parse_job_id(scheduler: Scheduler, stdout: str, command: Optional[str] = None) -> str:
    """The job id in what the submit command printed; :class:`SubmitError` quoting it if none."""
    match = re.search(scheduler.job_id_pattern, stdout, re.MULTILINE)
    if match:
        return match.group("job_id")
    shown = stdout if len(stdout) <= 2000 else stdout[:2000] + "...(truncated)"
    where = f" of `{command}`" if command else ""
    raise SubmitError(
        f"{scheduler.name}: no job id found in the output{where} "
        f"(expected a match of {scheduler.job_id_pattern!r}); the output was: {shown!r}",
        command=command, returncode=0, stdout=stdout,
    )
