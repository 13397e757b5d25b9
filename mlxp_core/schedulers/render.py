"""Render a job script for a scheduler from a scheduler-neutral :class:`JobSpec`.

Shape (every scheduler, with its own prefix and flags)::

    #!/bin/bash
    <prefix> <job name>
    <prefix> <stderr>
    <prefix> <stdout>
    <prefix> <scheduler defaults>        (SGE: -S /bin/bash, -V, -notify; TORQUE, Moab: -V)
    <prefix> <end notification>          (OAR: --notify [ERROR]exec:<mlxp's recorder>)
    <prefix> <user directives, in order>
    <prefix> <generated resource lines>
    <prefix> <array line(s)>

    <setup lines>
    export KEY='value'
    cd /abs/workdir
    <command, shell-quoted>
    [mlxp_status=$?; <teardown lines>; exit "$mlxp_status"]   (only with teardown lines)

:func:`render_local_script` renders the same script without any directive (for running it as a
local background process).

The command is joined with :func:`shlex.join`, so every argument reaches the program literally
(spaces, quotes, ``$``, backticks, ``;``, ``*``, newlines). Job name, output paths and directive
values cannot carry a newline; directive values with spaces are double-quoted where the
scheduler reads quotes (SLURM, LSF) and refused elsewhere.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from mlxp_core.record.layout import METADATA, REQUEUE_MARKER, RUN_DIR_ENV, SCRIPT, STDERR, STDOUT
from mlxp_core.schedulers.base import (
    JobSpecError,
    Scheduler,
    parse_job_id,
    parse_resources,
    requested,
)

__all__ = [
    "JobSpec", "JobSpecError", "array_dispatch_lines", "parse_job_id", "render_array_script",
    "render_local_script", "render_script", "task_index_expr",
]

SHEBANG = "#!/bin/bash"
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUOTED_CHARS = r"\s#'"  # characters a directive value can only carry inside double quotes
_NEEDS_QUOTES_RE = re.compile(f"[{_QUOTED_CHARS}]")
log = logging.getLogger("mlxp")
_WARNED_NO_NOTICE: set[str] = set()


@dataclass
class JobSpec:
    """One job to render; see the module docstring for where each field goes.

    ``directives`` are raw lines in the scheduler's syntax without the prefix (a line that
    starts with the scheduler's prefix, or another prefix it reads, is kept as written).
    ``resources`` holds the generic fields of :func:`mlxp_core.schedulers.base.parse_resources`
    (``None`` values skipped). ``array`` is ``(first, last, max_running_or_None)``.
    ``teardown``: shell lines run after the command; the script still exits with the
    command's exit status. ``end_notice_target``: what the scheduler's end notification hands
    to mlxp's recorder (:mod:`mlxp_core.schedulers.oar_notice`): an array's run list; a
    single job's is its run directory (``env["MLXP_RUN_DIR"]``) unless given.
    """

    job_name: str
    stdout: str
    stderr: str
    workdir: str
    command: list[str]
    directives: list[str] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    array: Optional[tuple[int, int, Optional[int]]] = None
    teardown: list[str] = field(default_factory=list)
    end_notice_target: Optional[str] = None
    # the scheduler's walltime warning (``USR1``): the command then runs in the background and
    # the script forwards that signal to it (SLURM's ``B:`` signals reach the shell only);
    # ``requeue_exit``: the status the script exits with when the run asked to be rerun
    # (``metadata/.requeue`` in ``$MLXP_RUN_DIR``: Grid Engine and OAR rerun a job exiting 99)
    forward_signal: Optional[str] = None
    requeue_exit: Optional[int] = None


def render_script(scheduler: Scheduler, job: JobSpec) -> str:
    """The job script text (ends with a newline). Raises :class:`JobSpecError`."""
    header = _header_lines(scheduler, job)
    body = _body_lines(job)
    return "\n".join([SHEBANG, *header, "", *body]) + "\n"


def render_array_script(scheduler: Scheduler, job: JobSpec, body: list[str]) -> str:
    """An array job's script: the header of `job` (with `job.array`), then `body` verbatim.

    `body` picks the task's own run directory from the task index and runs its script.
    """
    if job.array is None:
        raise JobSpecError("render_array_script needs job.array")
    return "\n".join([SHEBANG, *_header_lines(scheduler, job), "", *body]) + "\n"


def render_local_script(job: JobSpec) -> str:
    """The job script without scheduler directives (the caller redirects its output)."""
    if job.array is not None:
        raise JobSpecError("a local job script cannot be a job array")
    return "\n".join([SHEBANG, "", *_body_lines(job)]) + "\n"


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------


def _header_lines(sched: Scheduler, job: JobSpec) -> list[str]:
    name = _job_name(sched, job.job_name)
    array = _array_texts(sched, job.array, name)
    lines = []
    if job.array and sched.array and sched.array.in_job_name:
        lines.append(sched.line(array.pop(0)))
    else:
        lines.append(sched.line(sched.job_name_format.format(_value(sched, "job name", name))))
    lines.append(sched.line(sched.stderr_format.format(_path(sched, "stderr", job.stderr))))
    lines.append(sched.line(sched.stdout_format.format(_path(sched, "stdout", job.stdout))))
    lines.extend(sched.line(text) for text in sched.default_directives)
    user = [_user_directive(sched, text) for text in job.directives]
    notice = _end_notice(sched, job, user)
    if notice:
        lines.append(sched.line(notice))
    lines.extend(line for line in user if line)
    generated = sched.resource_lines(parse_resources(job.resources))
    _check_single_line_option(sched, user, generated, job.resources)
    lines.extend(sched.line(text) for text in generated)
    lines.extend(sched.line(text) for text in array)
    return lines


def _job_name(sched: Scheduler, name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise JobSpecError(f"job name must be a non-empty string, got {name!r}")
    _no_newline("job name", name)
    unreadable = "" if sched.directive_quoting else _QUOTED_CHARS
    forbidden = re.compile(f'[{re.escape(sched.job_name_forbidden)}"{unreadable}]')
    return forbidden.sub("_", name)


def _no_newline(what: str, text: str) -> None:
    if "\n" in text or "\r" in text or "\0" in text:
        raise JobSpecError(f"{what} cannot contain a newline or NUL character: {text!r}")


def _value(sched: Scheduler, what: str, text: str) -> str:
    """``text`` as one directive value: double-quoted if needed and possible, else refused."""
    _no_newline(what, text)
    if '"' in text:
        raise JobSpecError(f"{what} cannot contain a double quote in a {sched.name} "
                           f"directive: {text!r}")
    if not _NEEDS_QUOTES_RE.search(text):
        return text
    if sched.directive_quoting:
        return f'"{text}"'
    raise JobSpecError(f"{what} cannot contain spaces, quotes or '#' in a {sched.name} "
                       f"directive (the scheduler does not read quotes there): {text!r}")


def _path(sched: Scheduler, what: str, path: str) -> str:
    if not isinstance(path, str) or not os.path.isabs(path):
        raise JobSpecError(f"{what} path must be absolute, got {path!r}")
    return _value(sched, f"{what} path", path)


def _user_directive(sched: Scheduler, text: str) -> str:
    """A full directive line from a raw user directive ('' for a blank one)."""
    _no_newline("directive", text)
    stripped = text.strip()
    if not stripped:
        return ""
    for prefix in (sched.directive, *sched.extra_prefixes):
        if stripped == prefix or stripped.startswith(prefix + " "):
            return stripped
    if stripped.startswith("#"):
        raise JobSpecError(f"directive {text!r} has a prefix that {sched.name} does not read; "
                           f"give directives without the prefix ({sched.directive!r} is added)")
    return sched.line(stripped)


def _end_notice(sched: Scheduler, job: JobSpec, user: list[str]) -> Optional[str]:
    """The directive text that makes the scheduler record the job's abnormal end, or None.

    Only when the recorder has a target (a single job's run directory, an array's run list:
    ``job.end_notice_target``), when the user gave no such directive of their own, and when
    the recorder command is made of characters the scheduler accepts.
    """
    target = job.end_notice_target or (None if job.array else job.env.get(RUN_DIR_ENV))
    if not sched.end_notice_format or not target:
        return None
    option = sched.end_notice_format.split()[0]
    if any(line.split()[1:2] and line.split()[1].startswith(option) for line in user):
        return None  # the user's own notification replaces mlxp's
    words = [sys.executable, "-m", "mlxp_core.endnotice", sched.name, target]
    command = " ".join(words)
    if any(not word or re.search(r"\s", word) for word in words) or not re.fullmatch(
            sched.end_notice_chars, command):
        _warn_no_notice(sched.name, command)
        return None
    return sched.end_notice_format.format(command=command)


def _warn_no_notice(scheduler: str, command: str) -> None:
    """Warn once per process (a sweep renders many such scripts)."""
    if scheduler in _WARNED_NO_NOTICE:
        return
    _WARNED_NO_NOTICE.add(scheduler)
    log.warning("mlxp: %s jobs go without an end notification: %r has characters %s does not "
                "accept there; a job it kills without a signal (%s) stays RUNNING unless a "
                "head waits for it (hydra.launcher.wait=true)", scheduler, command, scheduler,
                "oardel, walltime" if scheduler == "oar" else "cancel")


def _check_single_line_option(sched: Scheduler, user: list[str], generated: list[str],
                              resources: dict[str, Any]) -> None:
    option = sched.single_line_option
    if option is None:
        return
    mine = [text for text in generated if text.split(" ", 1)[0] == option]
    theirs = [line for line in user if line.split()[1:2] == [option]]
    if mine and theirs:
        fields = ", ".join(requested(parse_resources(resources)))
        raise JobSpecError(
            f"{sched.name} needs all resources on one '{option}' line, but the directive "
            f"{theirs[0]!r} and the generated resources ({fields}) would make two; put them "
            f"all in the directive or all in the resources")


def _array_texts(sched: Scheduler, array: Optional[tuple[int, int, Optional[int]]],
                 name: str) -> list[str]:
    """Directive texts for ``array`` (``[]`` when ``None``)."""
    if array is None:
        return []
    syntax = sched.array
    if syntax is None:
        raise JobSpecError(f"scheduler {sched.name!r} has no job arrays")
    first, last, limit = _check_array(sched, array)
    limit_text = ""
    if limit is not None:
        if syntax.limit_format is None:
            raise JobSpecError(f"scheduler {sched.name!r} cannot limit how many array tasks "
                               f"run at once (array limit {limit})")
        limit_text = syntax.limit_format.format(max=limit)
    values = {"first": first, "last": last, "count": last - first + 1, "name": name}
    if syntax.limit_inline:
        return [syntax.format.format(limit=limit_text, **values)]
    return [syntax.format.format(limit="", **values), *([limit_text] if limit_text else [])]


def _check_array(sched: Scheduler, array: tuple[int, int, Optional[int]]
                 ) -> tuple[int, int, Optional[int]]:
    try:
        first, last, limit = array
    except (TypeError, ValueError):
        raise JobSpecError(f"array must be (first, last, max_running or None), got {array!r}"
                           ) from None
    numbers = [first, last] + ([] if limit is None else [limit])
    if any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
        raise JobSpecError(f"array bounds must be integers, got {array!r}")
    syntax = sched.array
    assert syntax is not None
    if syntax.start is not None and first != syntax.start:
        raise JobSpecError(f"{sched.name} numbers array tasks from {syntax.start}: the array "
                           f"must start at {syntax.start}, got {first}")
    if first < syntax.min_index or last < first:
        raise JobSpecError(f"{sched.name} array must satisfy {syntax.min_index} <= first <= "
                           f"last, got first={first}, last={last}")
    if limit is not None and limit < 1:
        raise JobSpecError(f"array limit must be a positive integer, got {limit}")
    return first, last, limit


# --------------------------------------------------------------------------------------------
# Body
# --------------------------------------------------------------------------------------------


def _body_lines(job: JobSpec) -> list[str]:
    if not isinstance(job.workdir, str) or not os.path.isabs(job.workdir):
        raise JobSpecError(f"workdir must be an absolute path, got {job.workdir!r}")
    _no_newline("workdir", job.workdir)
    # bash waits for the command on SIGTERM/SIGUSR2 (cancel, walltime, SGE's notice), so the
    # command can record the interruption before the scheduler tears the job down
    lines = [*job.setup, *_exports(job.env), "trap : TERM USR2",
             f"cd {shlex.quote(job.workdir)}"]
    if job.forward_signal:
        return [*lines, *_forwarding_lines(job)]
    lines.append(_command(job.command))
    if job.teardown:
        lines += ["mlxp_status=$?", *job.teardown, 'exit "$mlxp_status"']
    return lines


def _forwarding_lines(job: JobSpec) -> list[str]:
    """Run the command in the background, pass the warning signal on, wait for its end.

    ``wait`` returns early when a trapped signal arrives: the loop waits again until the
    command has really ended (a zombie still answers ``kill -0``; its status is then read).
    """
    sig = job.forward_signal
    if not isinstance(sig, str) or not re.fullmatch(r"[A-Z0-9]+", sig):
        raise JobSpecError(f"forward_signal must be a signal name such as USR1, got {sig!r}")
    lines = [f"trap 'kill -s {sig} \"$mlxp_pid\" 2>/dev/null' {sig}",
             f"{_command(job.command)} &",
             "mlxp_pid=$!",
             'while :; do wait "$mlxp_pid"; mlxp_status=$?; '
             'kill -0 "$mlxp_pid" 2>/dev/null || break; done']
    if job.requeue_exit is not None:
        marker = f'"${RUN_DIR_ENV}/{METADATA}/{REQUEUE_MARKER}"'
        lines.append(f"if [ -e {marker} ]; then rm -f {marker}; "
                     f"mlxp_status={int(job.requeue_exit)}; fi")
    return [*lines, *job.teardown, 'exit "$mlxp_status"']


def _exports(env: dict[str, str]) -> list[str]:
    lines = []
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME_RE.fullmatch(key):
            raise JobSpecError(f"environment variable name {key!r} is not a valid shell name")
        if not isinstance(value, str) or "\0" in value:
            raise JobSpecError(f"environment variable {key} must be a string without NUL, "
                               f"got {value!r}")
        lines.append(f"export {key}={shlex.quote(value)}")
    return lines


def _command(command: list[str]) -> str:
    if isinstance(command, str) or not command:
        raise JobSpecError(f"command must be a non-empty list of arguments, got {command!r}")
    for arg in command:
        if not isinstance(arg, str) or "\0" in arg:
            raise JobSpecError(f"command arguments must be strings without NUL, got {arg!r}")
    return shlex.join(command)


def task_index_expr(scheduler: Scheduler) -> str:
    """Bash expression of an array task's index (the first variable the scheduler sets)."""
    expr = ""
    for name in reversed(scheduler.env.array_task):
        expr = f"${{{name}:-{expr}}}" if expr else f"${{{name}}}"
    return expr


def array_dispatch_lines(scheduler: Scheduler, run_dirs: list[Any], first: int) -> list[str]:
    """An array script's body: pick this task's run directory and run its script."""
    runs = " ".join(shlex.quote(str(d)) for d in run_dirs)
    return [
        f"runs=({runs})",
        f"task={task_index_expr(scheduler)}",
        f'run="${{runs[$((task - {first}))]}}"',
        'if [ -z "$run" ]; then echo "mlxp: no run directory for array task $task" >&2; '
        "exit 2; fi",
        f'exec bash "$run/{SCRIPT}" >"$run/{STDOUT}" 2>"$run/{STDERR}"',
    ]
