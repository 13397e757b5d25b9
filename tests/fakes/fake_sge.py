"""Fake `qsub` for Grid Engine (scripts with `#$` directives): see fakesched.py."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import Optional

from fakesched import (
    FakeError,
    Flavour,
    Options,
    Submission,
    Task,
    allocate_ids,
    copy_script,
    directive_texts,
    exported_vars,
    hms_seconds,
    host_name,
    key_values,
    out_path,
    parse_words,
    read_file,
    strip_host,
    user_name,
)

SGE_OPTIONS = {
    "-N": 1, "-o": 1, "-e": 1, "-j": 1, "-l": 1, "-pe": 2, "-q": 1, "-t": 1, "-tc": 1, "-S": 1,
    "-V": 0, "-v": 1, "-cwd": 0, "-wd": 1, "-A": 1, "-P": 1, "-terse": 0, "-m": 1, "-M": 1,
    "-r": 1, "-notify": 0, "-hold_jid": 1, "-b": 1, "-R": 1, "-p": 1, "-h": 0, "-a": 1,
    "-now": 1, "-w": 1, "-js": 1, "-sync": 1,
}
SGE_RESOURCES = {"h_rt", "s_rt", "h_vmem", "s_vmem", "mem_free", "virtual_free", "gpu", "h_cpu",
                 "s_cpu", "arch", "hostname", "h_fsize", "h_stack", "exclusive"}
SGE_PARALLEL_ENVIRONMENTS = {"smp"}
SGE_NAME_FORBIDDEN = "/:@\\*? \t"


def sge_unknown(token: str) -> FakeError:
    return FakeError(f'qsub: ERROR! invalid option argument "{token}"\nUsage: qsub -help', 7)


def sge_read(prog: str, argv: list[str], stdin_text: Optional[str]) -> Submission:
    cli = Options()
    rest = parse_words(argv, SGE_OPTIONS, cli, sge_unknown)
    cwd = os.getcwd()
    if rest:
        path, text = read_file(rest[0], cwd, "Unable to read script file because of "
                                                   "error: error opening {path}: No such file "
                                                   "or directory")
    else:
        path, text = None, stdin_text if stdin_text is not None else sys.stdin.read()
    opts = Options()
    for _, rest_of_line in directive_texts(text, ("#$",)):
        parse_words(shlex.split(rest_of_line), SGE_OPTIONS, opts, sge_unknown)
    opts.items.extend(cli.items)
    sge_validate(opts)
    return Submission(prog, argv, cwd, path, text, opts)


def sge_validate(opts: Options) -> None:
    name = opts.last("-N")
    if name is not None:
        bad = next((c for c in name if c in SGE_NAME_FORBIDDEN), None)
        if bad is not None or not name:
            raise FakeError(f'Unable to run job: denied: "{name}" is not a valid object name '
                            f'(cannot contain "{bad}")\nExiting.', 1)
    for spec in opts.all("-l"):
        for key, value in key_values(spec):
            sge_check_resource(key, value)
    for spec in opts.all("-pe"):
        pe, _, slots = spec.partition(" ")
        if pe not in SGE_PARALLEL_ENVIRONMENTS:
            raise FakeError(f'Unable to run job: job rejected: the requested parallel '
                            f'environment "{pe}" does not exist.\nExiting.', 1)
        if not re.fullmatch(r"\d+(-\d+)?", slots):
            raise sge_unknown(f"-pe {spec}")
    task_spec = opts.last("-t")
    if task_spec is not None and not sge_tasks(task_spec):
        raise sge_unknown(f"-t {task_spec}")
    tc = opts.last("-tc")
    if tc is not None and not tc.isdigit():
        raise sge_unknown(f"-tc {tc}")
    join = opts.last("-j")
    if join is not None and join.lower() not in ("y", "yes", "n", "no"):
        raise sge_unknown(f"-j {join}")


def sge_check_resource(key: str, value: str) -> None:
    if key not in SGE_RESOURCES:
        raise FakeError(f'Unable to run job: unknown resource "{key}".\nExiting.', 1)
    if key.endswith("_rt") and hms_seconds(value) is None:
        raise FakeError(f'Unable to run job: error: invalid time value "{value}" for resource '
                        f'"{key}".\nExiting.', 1)
    if key.endswith("vmem") and not re.fullmatch(r"\d+(\.\d+)?[KMGkmg]?", value):
        raise FakeError(f'Unable to run job: error: invalid memory value "{value}" for '
                        f'resource "{key}".\nExiting.', 1)
    if key == "gpu" and not value.isdigit():
        raise FakeError(f'Unable to run job: error: invalid value "{value}" for resource '
                        f'"gpu".\nExiting.', 1)


def sge_tasks(spec: str) -> Optional[tuple[int, int, int]]:
    match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", spec)
    if not match:
        return None
    first = int(match.group(1))
    last = int(match.group(2) or first)
    step = int(match.group(3) or 1)
    if first < 1 or last < first or step < 1:
        return None
    return first, last, step


def sge_expand(pattern: str, values: dict[str, str]) -> str:
    return re.sub(r"\$(JOB_ID|TASK_ID|JOB_NAME|HOME|USER|HOSTNAME)",
                  lambda m: values[m.group(1)], pattern)


def sge_plan(state: Path, sub: Submission) -> tuple[list[Task], str, str]:
    opts = sub.opts
    job_id = allocate_ids(state, 1)[0]
    script = copy_script(state, sub, job_id)
    name = opts.last("-N") or (os.path.basename(sub.script_path) if sub.script_path else "STDIN")
    home = os.path.expanduser("~")
    workdir = opts.last("-wd") or (sub.cwd if opts.has("-cwd") else home)
    task_range = sge_tasks(opts.last("-t") or "") if opts.has("-t") else None
    indexes = list(range(task_range[0], task_range[1] + 1, task_range[2])) if task_range else []
    shell = opts.last("-S")
    tasks = []
    for index in indexes or [None]:
        task = "undefined" if index is None else str(index)
        values = {"JOB_ID": str(job_id), "TASK_ID": task, "JOB_NAME": name, "HOME": home,
                  "USER": user_name(), "HOSTNAME": host_name()}
        suffix = "" if index is None else f".{index}"
        stdout = sge_output(opts.last("-o"), f"{name}.o{job_id}{suffix}", values, workdir)
        stderr = sge_output(opts.last("-e"), f"{name}.e{job_id}{suffix}", values, workdir)
        if (opts.last("-j") or "n").lower().startswith("y"):
            stderr = stdout
        env = sge_env(opts, sub, job_id, name, task, task_range, workdir)
        env.update(SGE_STDOUT_PATH=stdout, SGE_STDERR_PATH=stderr, JOB_SCRIPT=script)
        key = str(job_id) if index is None else f"{job_id}.{index}"
        tasks.append(Task(key, str(job_id), "sge", [shell, script] if shell else [script],
                          workdir, stdout, stderr, "a", env, inherit_env=opts.has("-V"),
                          extra_env=exported_vars(opts.all("-v")), aliases=(key,)))
    if task_range:
        first, last, step = task_range
        array = f"{job_id}.{first}-{last}:{step}"
        said = f"{array}\n" if opts.has("-terse") else (
            f'Your job-array {array} ("{name}") has been submitted\n')
    else:
        said = f"{job_id}\n" if opts.has("-terse") else (
            f'Your job {job_id} ("{name}") has been submitted\n')
    return tasks, said, ""


def sge_output(option: Optional[str], default: str, values: dict[str, str], workdir: str) -> str:
    if option is None:
        return os.path.join(workdir, default)
    path = out_path(sge_expand(strip_host(option), values), workdir)
    return os.path.join(path, default) if os.path.isdir(path) else path


def sge_env(opts: Options, sub: Submission, job_id: int, name: str, task: str,
            task_range: Optional[tuple[int, int, int]], workdir: str) -> dict[str, str]:
    pe = opts.last("-pe")
    first, last, step = (str(v) for v in task_range) if task_range else ("undefined",) * 3
    env = {"JOB_ID": str(job_id), "JOB_NAME": name, "SGE_TASK_ID": task,
           "SGE_TASK_FIRST": first, "SGE_TASK_LAST": last, "SGE_TASK_STEPSIZE": step,
           "SGE_ROOT": "/var/lib/gridengine", "SGE_CELL": "default", "SGE_O_WORKDIR": sub.cwd,
           "SGE_O_HOME": os.path.expanduser("~"), "SGE_O_PATH": os.environ.get("PATH", ""),
           "SGE_O_HOST": host_name(), "SGE_CWD_PATH": workdir,
           "NSLOTS": pe.split()[1].split("-")[0] if pe else "1", "NHOSTS": "1",
           "NQUEUES": "1", "QUEUE": opts.last("-q") or "all.q", "REQUEST": name,
           "RESTARTED": "0", "ENVIRONMENT": "BATCH"}
    if pe:
        env["PE"] = pe.split()[0]
    return env




def sge_rejection(sub: Submission) -> FakeError:
    queue = sub.opts.last("-q") or "all.q"
    return FakeError(f'Unable to run job: Job was rejected because job requests unknown queue '
                     f'"{queue}".\nExiting.', 1)


SGE = Flavour("qsub", sge_read, sge_plan, sge_rejection)
