"""Fake batch-scheduler commands for tests: the shared library behind ``tests/fakes/bin``.

This module holds what every fake shares (state, option parsing, starting and cancelling jobs);
each scheduler's own parsing, validation and output live in ``fake_slurm``, ``fake_sge``,
``fake_pbs`` (TORQUE and Moab), ``fake_oar`` and ``fake_lsf``, loaded by the command that needs
them.

Each fake accepts the real command's calling form, reads and validates the script's own
directive lines, prints exactly what the real command prints on success (or a real-looking
error on stderr with a non-zero exit status), and runs the job in the background with the
environment variables the real scheduler sets. Faithful details that matter to a launcher:

* ``sbatch``, ``qsub``, ``msub`` and ``bsub`` copy the script at submission; ``oarsub -S``
  runs the submitted file itself when the job starts (it must still be there, executable).
* Jobs start in the submit directory for SLURM, OAR and LSF, in ``$HOME`` for SGE (unless
  ``-cwd``/``-wd``) and TORQUE/Moab (unless ``-d``).
* SGE, TORQUE and Moab jobs get the submitter's environment only with ``-V``; OAR jobs never
  do (a minimal login environment); SLURM and LSF jobs always do.

State lives in ``$FAKE_SCHED_DIR`` (default: ``fake-sched-<uid>`` in the temp dir): ``counter``
(last job id), ``jobs/<key>.json`` (one record per job or array task: argv, script, env set,
pid, state ``PENDING``/``RUNNING``/``COMPLETED``/``FAILED``/``CANCELLED``, ``exit_code``),
``scripts/`` (copies). Knobs: ``FAKE_SCHED_NORUN=1`` (print the id, do not run; an array
then has one record, of its first task, listing every task's key in ``norun_array_keys``),
``FAKE_SCHED_REJECT=<text>`` (reject scripts containing it), ``FAKE_SCHED_BAD_OUTPUT=1``
(exit 0 printing no job id), and the cluster limits of :func:`check_limits`
(``FAKE_SCHED_MAX_ARRAY_SIZE``, ``FAKE_SCHED_MAX_SUBMIT``, ``FAKE_SCHED_MAX_AJ_TASKS``). Every
call of a fake command is appended to ``calls.log`` (``helpers.calls``: how tests count
scheduler calls). The listing, accounting and configuration commands (``squeue``, ``sacct``,
``scontrol``, ``qstat -xml``, ``qacct``, ``qconf``, ``oarstat -J``, ``bjobs -o``, ``showq
--xml``) live in ``fake_query``.

This module must not import mlxp_core: it stands for software the project does not control.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Optional

PENDING, RUNNING, COMPLETED, FAILED, CANCELLED = (
    "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
FINISHED = (COMPLETED, FAILED, CANCELLED)
FIRST_ID = 1000
PBS_SERVER = "fakeserver.localdomain"
MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"


class FakeError(Exception):
    """Ends the command: ``message`` on stderr, ``stdout`` on stdout, exit status ``code``."""

    def __init__(self, message: str, code: int = 1, stdout: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.stdout = stdout


# --------------------------------------------------------------------------------------------
# State: ids, records, locking
# --------------------------------------------------------------------------------------------


def state_dir() -> Path:
    base = os.environ.get("FAKE_SCHED_DIR")
    if not base:
        import tempfile

        base = os.path.join(tempfile.gettempdir(), f"fake-sched-{os.getuid()}")
    path = Path(base)
    (path / "jobs").mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(state: Path) -> Iterator[None]:
    with open(state / "lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))  # compact: an array of 1,000 tasks writes 1,000 records
    os.replace(tmp, path)


def allocate_ids(state: Path, count: int) -> list[int]:
    """``count`` consecutive new job ids (unique across concurrent submissions)."""
    with locked(state):
        counter = state / "counter"
        last = int(counter.read_text()) if counter.exists() else FIRST_ID - 1
        counter.with_name("counter.tmp").write_text(str(last + count))
        os.replace(counter.with_name("counter.tmp"), counter)
    return list(range(last + 1, last + count + 1))


def record_path(state: Path, key: str) -> Path:
    return state / "jobs" / f"{key}.json"


def read_record(state: Path, key: str) -> dict:
    return json.loads(record_path(state, key).read_text())


def all_records(state: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((state / "jobs").glob("*.json"))]


# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------


class Options:
    """Options in the order given (script directives first, then the command line)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, name: str, value: str = "") -> None:
        self.items.append((name, value))

    def last(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self.all(name)
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.items if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.items)


def parse_gnu(tokens: list[str], longs: dict[str, bool], shorts: dict[str, str], prog: str,
              into: Options) -> list[str]:
    """GNU getopt with stop at the first non-option; returns the remaining tokens.

    ``longs``: long name -> takes an argument; ``shorts``: letter -> long name.
    """
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            return tokens[i + 1:]
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            full = _long_name(name, longs, prog)
            if longs[full] and not eq:
                if i + 1 >= len(tokens):
                    raise _usage(prog, f"option '--{full}' requires an argument")
                i, value = i + 1, tokens[i + 1]
            elif not longs[full] and eq:
                raise _usage(prog, f"option '--{full}' doesn't allow an argument")
            into.add(full, value)
        elif token.startswith("-") and len(token) > 1:
            i = _short_cluster(tokens, i, longs, shorts, prog, into)
        else:
            return tokens[i:]
        i += 1
    return []


def _long_name(name: str, longs: dict[str, bool], prog: str) -> str:
    if name in longs:
        return name
    matches = [full for full in longs if full.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise _usage(prog, f"option '--{name}' is ambiguous")
    raise _usage(prog, f"unrecognized option '--{name}'")


def _short_cluster(tokens: list[str], i: int, longs: dict[str, bool], shorts: dict[str, str],
                   prog: str, into: Options) -> int:
    letters = tokens[i][1:]
    for pos, letter in enumerate(letters):
        if letter not in shorts:
            raise _usage(prog, f"invalid option -- '{letter}'")
        full = shorts[letter]
        if not longs[full]:
            into.add(full)
            continue
        value = letters[pos + 1:]
        if not value:
            if i + 1 >= len(tokens):
                raise _usage(prog, f"option requires an argument -- '{letter}'")
            i, value = i + 1, tokens[i + 1]
        into.add(full, value)
        break
    return i


def _usage(prog: str, message: str) -> FakeError:
    return FakeError(f"{prog}: {message}\nTry \"{prog} --help\" for more information", 255)


def parse_words(tokens: list[str], table: dict[str, int], into: Options,
                unknown: Callable[[str], FakeError]) -> list[str]:
    """Single-dash word options (``-N name``, ``-pe smp 4``); ``table``: option -> arity."""
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token not in table:
            if token.startswith("-") and len(token) > 1:
                raise unknown(token)
            return tokens[i:]
        arity = table[token]
        args = tokens[i + 1:i + 1 + arity]
        if len(args) < arity:
            raise unknown(token)
        into.add(token, " ".join(args))
        i += 1 + arity
    return []


def directive_texts(script: str, prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(prefix, rest)`` of the directive lines before the first command line."""
    found = []
    for line in script.splitlines()[1:] if script.startswith("#!") else script.splitlines():
        stripped = line.strip()
        prefix = next((p for p in prefixes if stripped == p or stripped.startswith(p + " ")
                       or stripped.startswith(p + "\t")), None)
        if prefix is not None:
            found.append((prefix, stripped[len(prefix):].strip()))
        elif stripped and not stripped.startswith("#"):
            break
    return found


def expand_ranges(spec: str) -> Optional[list[int]]:
    """Indexes of ``1-4``, ``0-6:2``, ``1,3,5-7``; ``None`` when malformed."""
    indexes: list[int] = []
    for part in spec.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if not match:
            return None
        first = int(match.group(1))
        last = int(match.group(2) or first)
        step = int(match.group(3) or 1)
        if last < first or step < 1:
            return None
        indexes.extend(range(first, last + 1, step))
    return indexes


def hms_seconds(text: str) -> Optional[int]:
    """Seconds of ``[[H:]M:]S`` (each field digits), ``None`` when malformed."""
    if not re.fullmatch(r"\d+(?::\d+){0,2}", text):
        return None
    seconds = 0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def key_values(text: str) -> list[tuple[str, str]]:
    """``a=1,b=2`` -> pairs (a value may itself contain ``:``)."""
    pairs = []
    for item in text.split(","):
        key, _, value = item.strip().partition("=")
        pairs.append((key.strip(), value.strip()))
    return pairs


# --------------------------------------------------------------------------------------------
# Jobs: records, starting, the wrapper that records the exit code
# --------------------------------------------------------------------------------------------


class Submission(NamedTuple):
    prog: str
    argv: list[str]
    cwd: str
    script_path: Optional[str]  # absolute, None when read from stdin
    text: str
    opts: Options


class Task(NamedTuple):
    key: str  # record name, unique
    submit_id: str  # the id the submit command printed
    scheduler: str
    argv: list[str]  # how the job is started
    workdir: str
    stdout: str
    stderr: str
    out_mode: str  # "w" or "a"
    env: dict[str, str]  # the scheduler's variables
    inherit_env: bool
    extra_env: Optional[dict[str, str]] = None  # variables the job's command line exported
    aliases: tuple[str, ...] = ()  # ids the cancel command accepts


def copy_script(state: Path, sub: Submission, job_id: int) -> str:
    scripts = state / "scripts"
    scripts.mkdir(exist_ok=True)
    path = scripts / f"{job_id}.sh"
    path.write_text(sub.text)
    path.chmod(0o700)
    return str(path)


def start_tasks(state: Path, sub: Submission, tasks: list[Task]) -> None:
    now = time.time()
    norun = os.environ.get("FAKE_SCHED_NORUN") == "1"
    with locked(state):
        for task in tasks:
            record = {**task._asdict(), "submit_argv": [sub.prog, *sub.argv], "cwd": sub.cwd,
                      "script": sub.script_path, "state": PENDING, "pid": None, "pgid": None,
                      "exit_code": None, "signal": None, "error": None, "submit_time": now,
                      "start_time": None, "end_time": None}
            if norun and len(tasks) > 1:
                # nothing will run: one record for the whole array, as a real scheduler's
                # client sends one request (the benchmarks measure the launcher, not us)
                record["norun_array_keys"] = [t.key for t in tasks]
                write_json(record_path(state, task.key), record)
                break
            write_json(record_path(state, task.key), record)
    if norun:
        return
    runner = ("import sys; sys.path.insert(0, sys.argv[1]); import fakesched; "
              "sys.exit(fakesched.run_task(fakesched.Path(sys.argv[2]), sys.argv[3]))")
    here = os.path.dirname(os.path.abspath(__file__))
    for task in tasks:
        subprocess.Popen(  # -S: the wrapper needs the standard library only; starts faster
            [sys.executable, "-S", "-c", runner, here, str(state), task.key],
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, close_fds=True,
        )


@functools.cache
def user_name() -> str:
    return os.environ.get("USER") or pwd.getpwuid(os.getuid()).pw_name


def host_name() -> str:
    return os.uname().nodename


def minimal_env() -> dict[str, str]:
    user = user_name()
    env = {"HOME": os.path.expanduser("~"), "USER": user, "LOGNAME": user,
           "SHELL": "/bin/bash", "PATH": MINIMAL_PATH}
    for name in ("LANG", "TZ"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _open_outputs(record: dict) -> tuple:
    for path in {record["stdout"], record["stderr"]}:
        if not os.path.isdir(os.path.dirname(path)):
            raise OSError(f"output directory of {path} does not exist")
    out = open(record["stdout"], record["out_mode"])
    err = out if record["stderr"] == record["stdout"] else open(
        record["stderr"], record["out_mode"])
    return out, err


def _spawn(record: dict) -> subprocess.Popen:
    env = dict(os.environ) if record["inherit_env"] else minimal_env()
    env.update(record["extra_env"] or {})
    env.update(record["env"])
    out, err = _open_outputs(record)
    try:
        return subprocess.Popen(record["argv"], cwd=record["workdir"], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    finally:
        out.close()
        err.close()


def run_task(state: Path, key: str) -> int:
    """The wrapper: start the job in this process group, wait, record the exit code.

    SIGTERM sent to the group (cancel) reaches the job; the wrapper only notes it.
    """
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    with locked(state):
        record = read_record(state, key)
        if record["state"] != PENDING:
            return 0
        record["start_time"] = time.time()
        try:
            proc = _spawn(record)
        except OSError as exc:
            record.update(state=FAILED, exit_code=1, error=str(exc), end_time=time.time())
            write_json(record_path(state, key), record)
            return 0
        record.update(state=RUNNING, pid=proc.pid, pgid=os.getpgid(0))
        write_json(record_path(state, key), record)
    code = proc.wait()
    with locked(state):
        record = read_record(state, key)
        record["exit_code"] = code if code >= 0 else 128 - code
        record["signal"] = signal.Signals(-code).name if code < 0 else None
        if record["state"] != CANCELLED:
            record["state"] = COMPLETED if code == 0 else FAILED
        record["end_time"] = time.time()
        write_json(record_path(state, key), record)
    return 0


# --------------------------------------------------------------------------------------------
# Submission driver
# --------------------------------------------------------------------------------------------


class Flavour(NamedTuple):
    prog: str
    read: Callable[[str, list[str], Optional[str]], Submission]
    plan: Callable[[Path, Submission], tuple[list[Task], str, str]]
    rejection: Callable[[Submission], FakeError]


def run_submit(flavour: Flavour, argv: list[str], stdin_text: Optional[str] = None) -> int:
    try:
        sub = flavour.read(flavour.prog, argv, stdin_text)
        reject = os.environ.get("FAKE_SCHED_REJECT")
        if reject and reject in sub.text:
            raise flavour.rejection(sub)
        check_limits(flavour, sub)
        if os.environ.get("FAKE_SCHED_BAD_OUTPUT") == "1":
            print(f"{flavour.prog}: the fake scheduler daemon sent an unexpected reply "
                  "(FAKE_SCHED_BAD_OUTPUT)")
            return 0
        state = state_dir()
        tasks, out, err = flavour.plan(state, sub)
        start_tasks(state, sub, tasks)
    except FakeError as exc:
        sys.stdout.write(exc.stdout)
        print(exc.message, file=sys.stderr)
        return exc.code
    sys.stdout.write(out)
    sys.stderr.write(err)
    return 0


def _active_tasks(state: Path) -> int:
    count = 0
    for record in all_records(state):
        if record["state"] in (PENDING, RUNNING):
            count += len(record.get("norun_array_keys") or [None])
    return count


def check_limits(flavour: Flavour, sub: Submission) -> None:
    """The cluster limits a submission can hit, with the real commands' messages.

    SLURM: an array index at or above ``FAKE_SCHED_MAX_ARRAY_SIZE`` (MaxArraySize, default
    1001: it caps the index, not the count); a QOS ``MaxSubmitJobs`` of
    ``FAKE_SCHED_MAX_SUBMIT`` queued + running jobs (array tasks count one each). Grid
    Engine: more than ``FAKE_SCHED_MAX_AJ_TASKS`` tasks (max_aj_tasks, default 75000);
    ``max_u_jobs`` = ``FAKE_SCHED_MAX_SUBMIT``.
    """
    count = 1
    if flavour.prog == "sbatch":
        from fake_slurm import slurm_array

        indexes = slurm_array(sub.opts) or []
        limit = int(os.environ.get("FAKE_SCHED_MAX_ARRAY_SIZE", "1001"))
        if indexes and max(indexes) >= limit:
            raise FakeError("sbatch: error: Batch job submission failed: Invalid job array "
                            "specification", 1)
        count = max(1, len(indexes))
    elif flavour.prog == "qsub" and sub.opts.has("-t"):
        from fake_sge import sge_tasks

        spec = sge_tasks(sub.opts.last("-t") or "") if "#$" in sub.text else None
        limit = int(os.environ.get("FAKE_SCHED_MAX_AJ_TASKS", "75000"))
        if spec:
            count = len(range(spec[0], spec[1] + 1, spec[2]))
            if limit and count > limit:
                raise FakeError("Unable to run job: job rejected: you tried to submit a job "
                                f"with more than {limit} tasks\nExiting.", 1)
    most = int(os.environ.get("FAKE_SCHED_MAX_SUBMIT", "0"))
    if most and _active_tasks(state_dir()) + count > most:
        if flavour.prog == "sbatch":
            raise FakeError("sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch "
                            "job submission failed: Job violates accounting/QOS policy (job "
                            "submit limit, user's size and/or time limits)", 1)
        if flavour.prog == "qsub" and "#$" in sub.text:
            raise FakeError(f"Unable to run job: job rejected: Only {most} jobs are allowed "
                            f"per user (current job count: {_active_tasks(state_dir())})\n"
                            "Exiting.", 1)


def read_file(path: str, cwd: str, message: str) -> tuple[str, str]:
    full = os.path.join(cwd, path)
    try:
        return os.path.abspath(full), Path(full).read_text()
    except OSError:
        raise FakeError(message.format(path=path), 1) from None


def strip_host(path: str) -> str:
    """``host:/path`` -> ``/path`` (SGE and PBS output paths may name a host)."""
    return re.sub(r"^[\w.-]*:(?=[^:]*$)", "", path)


def out_path(path: str, base: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def replace_all(pattern: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        pattern = pattern.replace(placeholder, value)
    return pattern


def exported_vars(specs: list[str]) -> dict[str, str]:
    """``-v A=1,B`` (``B`` copied from the submitter's environment)."""
    env = {}
    for spec in specs:
        for item in spec.split(","):
            key, eq, value = item.partition("=")
            if key:
                env[key] = value if eq else os.environ.get(key, "")
    return env


# --------------------------------------------------------------------------------------------
# qsub: Grid Engine or TORQUE, decided by the script's directive prefix
# --------------------------------------------------------------------------------------------


def qsub_main(argv: list[str]) -> int:
    stdin_text = None
    candidates = [t for t in argv if not t.startswith("-") and os.path.isfile(t)]
    texts = [Path(t).read_text(errors="replace") for t in candidates]
    if not candidates:
        stdin_text = sys.stdin.read()
        texts = [stdin_text]
    for text in texts:
        prefixes = {p for p, _ in directive_texts(text, ("#$", "#PBS"))}
        if prefixes == {"#$"}:
            return run_submit(flavour("qsub:sge"), argv, stdin_text)
        if prefixes == {"#PBS"}:
            return run_submit(flavour("qsub:torque"), argv, stdin_text)
    print("qsub (fake): cannot tell Grid Engine from TORQUE/PBS: the script must have "
          "'#$' or '#PBS' directive lines (and not both)", file=sys.stderr)
    return 2


# --------------------------------------------------------------------------------------------
# Cancel commands
# --------------------------------------------------------------------------------------------


class Canceller(NamedTuple):
    done: str  # printed on stdout on success ('' for nothing); {id} and {user}
    unknown: str  # on stderr for an unknown or finished job
    code: int  # exit status then
    by_submit_id: bool = True  # the submit id cancels every task


CANCELLERS = {
    "scancel": Canceller("", "scancel: error: Kill job error on job id {id}: Invalid job id "
                             "specified", 1),
    "qdel:sge": Canceller("{user} has registered the job {id} for deletion",
                          'denied: job "{id}" does not exist', 1),
    "qdel:torque": Canceller("", "qdel: Unknown Job Id {id}", 153),
    "oardel": Canceller("Deleting the job = {id} ...REGISTERED.\nThe job(s) [ {id} ] will be "
                        "deleted in the near future.", "Deleting the job = {id} ...[ERROR] "
                        "Unknown job {id}", 1, by_submit_id=False),
    "bkill": Canceller("Job <{id}> is being terminated", "Job <{id}>: No matching job found",
                       255),
    "canceljob": Canceller("job '{id}' cancelled", "ERROR:  invalid job specified ({id})", 1),
}


def cancel_main(prog: str, argv: list[str]) -> int:
    ids = [a for a in argv if not a.startswith("-")]
    if not ids:
        print(f"{prog}: no job id given", file=sys.stderr)
        return 1
    state = state_dir()
    status = 0
    for job_id in ids:
        with locked(state):
            records = all_records(state)
            name = prog if prog != "qdel" else qdel_flavour(records, job_id)
            rules = CANCELLERS[name]
            records = _split_norun(state, records, job_id, rules.by_submit_id)
            matching = [r for r in records if job_id in r["aliases"]
                        or (rules.by_submit_id and job_id == r["submit_id"])]
            active = [r for r in matching if r["state"] not in FINISHED]
            for record in active:
                record["state"] = CANCELLED
                if record["pid"] is None:
                    record["end_time"] = time.time()
                write_json(record_path(state, record["key"]), record)
        if not active:
            print(rules.unknown.format(id=job_id), file=sys.stderr)
            status = rules.code
            continue
        for record in active:
            if record["pgid"]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(record["pgid"], signal.SIGTERM)
        if rules.done:
            print(rules.done.format(id=job_id, user=user_name()))
    return status


def _split_norun(state: Path, records: list[dict], job_id: str,
                 by_submit_id: bool) -> list[dict]:
    """A task of a not-run array (one record for all its tasks) cancelled on its own: the
    array's record becomes one record per task first, as the real queue holds them."""
    out = []
    for record in records:
        keys = record.get("norun_array_keys")
        if not keys or job_id not in keys or (by_submit_id and job_id == record["submit_id"]):
            out.append(record)
            continue
        task_env = importlib.import_module("fake_query")._task_env
        for position, key in enumerate(keys):
            task = {**record, "key": key, "aliases": [key], "norun_array_keys": None,
                    "env": task_env(record["scheduler"], record["env"], key, position)}
            write_json(record_path(state, key), task)
            out.append(task)
    return out


def qdel_flavour(records: list[dict], job_id: str) -> str:
    for record in records:
        if job_id in record["aliases"] or job_id == record["submit_id"]:
            return "qdel:torque" if record["scheduler"] == "torque" else "qdel:sge"
    return "qdel:torque" if "." in job_id or "[" in job_id else "qdel:sge"


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

# Each fake command loads only its own flavour module (this library is compiled on every call).
SUBMITTERS = {"sbatch": ("fake_slurm", "SLURM"), "msub": ("fake_pbs", "MOAB"),
              "oarsub": ("fake_oar", "OAR"), "bsub": ("fake_lsf", "LSF"),
              "qsub:sge": ("fake_sge", "SGE"), "qsub:torque": ("fake_pbs", "TORQUE")}


def flavour(name: str) -> Flavour:
    module, attribute = SUBMITTERS[name]
    return getattr(importlib.import_module(module), attribute)


# status commands: each lists the jobs not yet ended, one per line, id first (as the real
# ones do: squeue -h -o %i, qstat, oarstat, bjobs, showq), after a header where they have one
LISTERS = {"squeue": "", "qstat": "job-ID  prior   name       user  state\n" + "-" * 40,
           "oarstat": "Job id    Name           User           Submission Date     S Queue\n"
                      + "-" * 40,
           "bjobs": "", "showq": "JOBID              USERNAME      STATE"}


def list_main(prog: str, argv: list[str]) -> int:
    active = [r for r in all_records(state_dir()) if r.get("state") in (PENDING, RUNNING)]
    if LISTERS[prog] and active:
        print(LISTERS[prog])
    for record in active:
        state = "RUN" if record.get("state") == RUNNING else "PEND"
        print(f"{record['key']} {state}")
    return 0


QUERIES = ("squeue", "sacct", "scontrol", "qacct", "qconf", "qstat", "oarstat", "bjobs",
           "showq")


def log_call(prog: str, argv: list[str]) -> None:
    """Append the call to ``calls.log`` (one JSON line): how tests count scheduler calls."""
    line = json.dumps({"prog": prog, "argv": argv, "time": time.time()}) + "\n"
    fd = os.open(state_dir() / "calls.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def main(prog: str, argv: list[str]) -> int:
    """Run the fake command ``prog`` with arguments ``argv``; returns the exit status."""
    log_call(prog, argv)
    if prog in QUERIES:
        status = importlib.import_module("fake_query").main(prog, argv)
        if status >= 0:
            return status
    if prog in LISTERS:
        return list_main(prog, argv)
    if prog in SUBMITTERS:
        return run_submit(flavour(prog), argv)
    if prog == "qsub":
        return qsub_main(argv)
    if prog in CANCELLERS or prog == "qdel":
        return cancel_main(prog, argv)
    print(f"fakesched: unknown command {prog!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(os.path.basename(sys.argv[1]) if len(sys.argv) > 1 else "", sys.argv[2:]))
