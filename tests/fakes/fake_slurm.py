"""Fake `sbatch` (SLURM): see fakesched.py for what every fake does."""

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
    expand_ranges,
    host_name,
    out_path,
    parse_gnu,
    read_file,
    user_name,
)

SLURM_LONGS = {
    "job-name": True, "output": True, "error": True, "time": True, "partition": True,
    "cpus-per-task": True, "mem": True, "gpus": True, "array": True, "nodes": True,
    "ntasks": True, "account": True, "chdir": True, "export": True, "open-mode": True,
    "signal": True, "parsable": False, "mail-type": True, "mail-user": True, "gres": True,
    "constraint": True, "qos": True, "exclusive": False, "requeue": False, "no-requeue": False,
    "mem-per-cpu": True, "gpus-per-node": True, "ntasks-per-node": True, "wckey": True,
    "comment": True, "dependency": True, "nice": True, "hold": False, "time-min": True,
    "help": False,
}
SLURM_SHORTS = {"J": "job-name", "o": "output", "e": "error", "t": "time", "p": "partition",
                "c": "cpus-per-task", "G": "gpus", "a": "array", "N": "nodes", "n": "ntasks",
                "A": "account", "D": "chdir", "C": "constraint", "q": "qos", "d": "dependency",
                "H": "hold"}
SLURM_TIME_RE = re.compile(
    r"\d+|\d+:\d+|\d+:\d+:\d+|\d+-\d+|\d+-\d+:\d+|\d+-\d+:\d+:\d+|UNLIMITED|INFINITE")
NOT_AN_ARRAY = "4294967294"


def slurm_read(prog: str, argv: list[str], stdin_text: Optional[str]) -> Submission:
    cli = Options()
    rest = parse_gnu(argv, SLURM_LONGS, SLURM_SHORTS, prog, cli)
    cwd = os.getcwd()
    if rest:
        path, text = read_file(rest[0], cwd, prog + ": error: Unable to open file {path}")
    else:
        path, text = None, stdin_text if stdin_text is not None else sys.stdin.read()
    if not text.strip():
        raise FakeError(f"{prog}: error: Batch script is empty!", 1)
    if not text.startswith("#!"):
        raise FakeError(
            f"{prog}: error: This does not look like a batch script.  The first\n"
            f"{prog}: error: line must start with #! followed by the path to an interpreter.\n"
            f"{prog}: error: For instance: #!/bin/sh", 1)
    opts = Options()
    for _, rest_of_line in directive_texts(text, ("#SBATCH",)):
        parse_gnu(shlex.split(rest_of_line, comments=True), SLURM_LONGS, SLURM_SHORTS, prog,
                  opts)
    opts.items.extend(cli.items)
    slurm_validate(prog, opts)
    return Submission(prog, argv, cwd, path, text, opts)


def slurm_validate(prog: str, opts: Options) -> None:
    checks = [
        ("time", SLURM_TIME_RE, f"{prog}: error: Invalid --time specification", 255),
        ("mem", re.compile(r"\d+([KMGT]B?)?", re.I), f"{prog}: error: Invalid --mem "
                                                     f"specification", 255),
        ("gpus", re.compile(r"([\w-]+:)?\d+"), f"{prog}: error: Invalid generic resource "
                                               f"(gres) specification", 1),
        ("nodes", re.compile(r"\d+(-\d+)?"), f'{prog}: error: "{{value}}" is not a valid '
                                             f"node count", 255),
        ("partition", re.compile(r"[\w.-]+(,[\w.-]+)*"),
         f"{prog}: error: invalid partition specified: {{value}}\n{prog}: error: Batch job "
         f"submission failed: Invalid partition name specified", 1),
        ("open-mode", re.compile(r"append|truncate|a|t"), f"{prog}: error: Invalid "
                                                          f"--open-mode argument", 255),
    ]
    for name, pattern, message, code in checks:
        value = opts.last(name)
        if value is not None and not pattern.fullmatch(value):
            raise FakeError(message.format(value=value), code)
    for name in ("cpus-per-task", "ntasks"):
        value = opts.last(name)
        if value is not None and not (value.isdigit() and int(value) > 0):
            raise FakeError(f'{prog}: error: Invalid numeric value "{value}" for --{name}.', 1)
    if opts.last("array") is not None and slurm_array(opts) is None:
        raise FakeError(f"{prog}: error: Batch job submission failed: Invalid job array "
                        f"specification", 1)


def slurm_array(opts: Options) -> Optional[list[int]]:
    spec = opts.last("array")
    if spec is None:
        return None
    spec, _, limit = spec.partition("%")
    if limit and not limit.isdigit():
        return None
    return expand_ranges(spec)


def slurm_expand(pattern: str, values: dict[str, str]) -> str:
    return re.sub(r"%([%jAaxuN])", lambda m: "%" if m.group(1) == "%" else values[m.group(1)],
                  pattern)


def slurm_plan(state: Path, sub: Submission) -> tuple[list[Task], str, str]:
    opts = sub.opts
    array = slurm_array(opts) or []
    indexes: list[Optional[int]] = [*array] or [None]
    ids = allocate_ids(state, len(indexes))
    array_id = ids[0]
    script = copy_script(state, sub, array_id)
    name = opts.last("job-name") or (os.path.basename(sub.script_path) if sub.script_path
                                     else "sbatch")
    workdir = out_path(opts.last("chdir") or sub.cwd, sub.cwd)
    is_array = bool(array)
    default_out = "slurm-%A_%a.out" if is_array else "slurm-%j.out"
    tasks = []
    low, high = (min(array), max(array)) if is_array else (0, 0)
    for index, job_id in zip(indexes, ids):
        env = slurm_env(opts, sub, job_id, name)
        if is_array:
            env.update(SLURM_ARRAY_JOB_ID=str(array_id), SLURM_ARRAY_TASK_ID=str(index),
                       SLURM_ARRAY_TASK_COUNT=str(len(array)),
                       SLURM_ARRAY_TASK_MIN=str(low), SLURM_ARRAY_TASK_MAX=str(high),
                       SLURM_ARRAY_TASK_STEP="1")
        values = {"j": str(job_id), "A": str(array_id if is_array else job_id),
                  "a": str(index) if is_array else NOT_AN_ARRAY, "x": name,
                  "u": user_name(), "N": "localhost"}
        stdout = out_path(slurm_expand(opts.last("output") or default_out, values), workdir)
        stderr = out_path(slurm_expand(opts.last("error") or opts.last("output")
                                       or default_out, values), workdir)
        key = f"{array_id}_{index}" if is_array else str(job_id)
        mode = "a" if (opts.last("open-mode") or "t").startswith("a") else "w"
        tasks.append(Task(key, str(array_id), "slurm", [script], workdir, stdout, stderr, mode,
                          env, inherit_env=True, aliases=(key, str(job_id))))
    said = f"{array_id}\n" if opts.has("parsable") else f"Submitted batch job {array_id}\n"
    return tasks, said, ""


def slurm_env(opts: Options, sub: Submission, job_id: int, name: str) -> dict[str, str]:
    cpus = opts.last("cpus-per-task")
    env = {"SLURM_JOB_ID": str(job_id), "SLURM_JOBID": str(job_id), "SLURM_JOB_NAME": name,
           "SLURM_SUBMIT_DIR": sub.cwd, "SLURM_SUBMIT_HOST": host_name(),
           "SLURM_JOB_PARTITION": opts.last("partition") or "debug",
           "SLURM_CLUSTER_NAME": "fakecluster", "SLURM_JOB_NUM_NODES": "1",
           "SLURM_NNODES": "1", "SLURM_JOB_NODELIST": "localhost", "SLURM_NODELIST": "localhost",
           "SLURM_CPUS_ON_NODE": cpus or "1", "SLURM_JOB_USER": user_name()}
    if cpus:
        env["SLURM_CPUS_PER_TASK"] = cpus
    return env


def slurm_rejection(sub: Submission) -> FakeError:
    return FakeError(f"{sub.prog}: error: Batch job submission failed: Invalid partition name "
                     f"specified", 1)


SLURM = Flavour("sbatch", slurm_read, slurm_plan, slurm_rejection)
