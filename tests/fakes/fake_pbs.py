"""Fake `qsub` for TORQUE/PBS (`#PBS` directives) and `msub` for Moab (`#MSUB`, `#PBS`)."""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path
from typing import Callable, Optional

from fakesched import (
    PBS_SERVER,
    FakeError,
    Flavour,
    Options,
    Submission,
    Task,
    allocate_ids,
    copy_script,
    directive_texts,
    expand_ranges,
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

PBS_OPTIONS = {
    "-N": 1, "-o": 1, "-e": 1, "-j": 1, "-l": 1, "-q": 1, "-t": 1, "-V": 0, "-v": 1, "-d": 1,
    "-A": 1, "-W": 1, "-m": 1, "-M": 1, "-r": 1, "-S": 1, "-z": 0, "-h": 0, "-a": 1, "-p": 1,
    "-k": 1, "-C": 1,
}
PBS_RESOURCES = {"nodes", "walltime", "mem", "pmem", "vmem", "pvmem", "ncpus", "procs", "gpus",
                 "feature", "file", "host", "naccesspolicy", "epilogue", "prologue", "cput"}
PBS_MEM_RE = re.compile(r"\d+(b|kb|mb|gb|tb|w|kw|mw|gw|tw)?", re.I)
PBS_NODES_RE = re.compile(r"(\d+|[A-Za-z][\w.-]*)(:ppn=\d+|:gpus=\d+|:[A-Za-z][\w-]*)*")
PBS_USAGE = ("usage: qsub [-a date_time] [-A account_string] [-b secs] [-c interval] "
             "[-C directive_prefix] [-d path] [-e path] [-h] [-I] [-j oe|eo|n] [-k {oe}] "
             "[-l resource_list] [-m n|{abe}] [-M user_list] [-N jobname] [-o path] "
             "[-p priority] [-q queue] [-r y|n] [-S path] [-t number_to_submit] [-T type] "
             "[-u user_list] [-w] path [-W otherattributes=value...] [-v variable_list] [-V] "
             "[-x] [-X] [-z] [script]")


def pbs_unknown(token: str) -> FakeError:
    return FakeError(f"qsub: invalid option -- '{token.lstrip('-')[:1]}'\n{PBS_USAGE}", 2)


def pbs_read(prog: str, argv: list[str], stdin_text: Optional[str]) -> Submission:
    return _pbs_like_read(prog, argv, stdin_text, ("#PBS",), pbs_unknown, "qsub")


def _pbs_like_read(prog: str, argv: list[str], stdin_text: Optional[str],
                   prefixes: tuple[str, ...], unknown: Callable[[str], FakeError],
                   flavour: str) -> Submission:
    cli = Options()
    rest = parse_words(argv, PBS_OPTIONS, cli, unknown)
    cwd = os.getcwd()
    if rest:
        path, text = read_file(rest[0], cwd, prog + ": script file '{path}' cannot be "
                                                          "loaded - No such file or directory")
    else:
        path, text = None, stdin_text if stdin_text is not None else sys.stdin.read()
    opts = Options()
    for _, rest_of_line in directive_texts(text, prefixes):
        parse_words(shlex.split(rest_of_line), PBS_OPTIONS, opts, unknown)
    opts.items.extend(cli.items)
    pbs_validate(prog, opts, flavour)
    return Submission(prog, argv, cwd, path, text, opts)


def pbs_validate(prog: str, opts: Options, flavour: str) -> None:
    def illegal(what: str) -> FakeError:
        if flavour == "msub":
            return FakeError(f"ERROR:    cannot submit job - invalid resource request "
                             f"'{what}'", 1)
        return FakeError(f"qsub: submit error (Illegal attribute or resource value  "
                         f"Resource_List.{what})", 1)

    for spec in opts.all("-l"):
        for key, value in key_values(spec):
            if key not in PBS_RESOURCES:
                if flavour == "msub":
                    raise illegal(key)
                raise FakeError(f"qsub: submit error (Unknown resource type  "
                                f"Resource_List.{key})", 1)
            if key == "walltime" and hms_seconds(value) is None:
                raise illegal(key)
            if key in ("mem", "pmem", "vmem", "pvmem") and not PBS_MEM_RE.fullmatch(value):
                raise illegal(key)
            if key == "nodes" and not PBS_NODES_RE.fullmatch(value):
                raise illegal(key)
    join = opts.last("-j")
    if join is not None and join not in ("oe", "eo", "n"):
        raise FakeError(f"{prog}: illegal -j value", 2)
    if opts.last("-t") is not None and pbs_array(opts.last("-t") or "", flavour) is None:
        raise FakeError(f"{prog}: illegal -t value" if flavour == "qsub" else
                        f"ERROR:    invalid job array specification '{opts.last('-t')}'", 2)


def pbs_array(spec: str, flavour: str) -> Optional[list[int]]:
    if flavour == "msub":
        match = re.fullmatch(r"[\w.-]*\[([\d,:-]+)\](?:%\d+)?", spec)
        return expand_ranges(match.group(1)) if match else None
    ranges, _, limit = spec.partition("%")
    if limit and not limit.isdigit():
        return None
    return expand_ranges(ranges)


def pbs_output(option: Optional[str], default: str, submit_dir: str) -> str:
    if option is None:
        return os.path.join(submit_dir, default)
    path = out_path(strip_host(option), submit_dir)
    return os.path.join(path, default) if os.path.isdir(path) else path


def pbs_tasks(state: Path, sub: Submission, flavour: str, ids: tuple[str, Callable[[int], str]],
              extra: Callable[[Optional[int], str], dict[str, str]]) -> list[Task]:
    """Tasks of a TORQUE or Moab submission; ``ids``: (sequence, task id formatter)."""
    opts = sub.opts
    seq, task_id = ids
    script = copy_script(state, sub, int(seq))
    name = pbs_name(sub)
    workdir = opts.last("-d") or os.path.expanduser("~")
    array = pbs_array(opts.last("-t") or "", flavour) if opts.has("-t") else None
    indexes: list[Optional[int]] = [*(array or [])] or [None]
    shell = opts.last("-S")
    tasks = []
    for index in indexes:
        suffix = "" if index is None else f"-{index}"
        stdout = pbs_output(opts.last("-o"), f"{name}.o{seq}", sub.cwd) + suffix
        stderr = pbs_output(opts.last("-e"), f"{name}.e{seq}", sub.cwd) + suffix
        join = opts.last("-j") or "n"
        stdout, stderr = (stdout, stdout) if join == "oe" else (
            (stderr, stderr) if join == "eo" else (stdout, stderr))
        key = task_id(index) if index is not None else task_id(-1)
        env = pbs_env(opts, sub, name, index, key if flavour == "qsub" else f"{seq}.{PBS_SERVER}")
        env.update(extra(index, key))
        tasks.append(Task(key, "", flavour, [shell, script] if shell else [script], workdir,
                          stdout, stderr, "w", env, inherit_env=opts.has("-V"),
                          extra_env=exported_vars(opts.all("-v"))))
    return tasks


def pbs_name(sub: Submission) -> str:
    return sub.opts.last("-N") or (os.path.basename(sub.script_path) if sub.script_path
                                   else "STDIN")


def pbs_env(opts: Options, sub: Submission, name: str, index: Optional[int],
            job_id: str) -> dict[str, str]:
    nodes = next((v for spec in opts.all("-l") for k, v in key_values(spec) if k == "nodes"),
                 "1")
    ppn = re.search(r":ppn=(\d+)", nodes)
    env = {"PBS_JOBID": job_id, "PBS_JOBNAME": name if index is None else f"{name}-{index}",
           "PBS_O_WORKDIR": sub.cwd, "PBS_O_HOST": host_name(),
           "PBS_O_HOME": os.path.expanduser("~"), "PBS_O_PATH": os.environ.get("PATH", ""),
           "PBS_O_SHELL": os.environ.get("SHELL", "/bin/bash"),
           "PBS_O_QUEUE": opts.last("-q") or "batch", "PBS_QUEUE": opts.last("-q") or "batch",
           "PBS_SERVER": PBS_SERVER, "PBS_ENVIRONMENT": "PBS_BATCH",
           "PBS_NUM_NODES": "1", "PBS_NUM_PPN": ppn.group(1) if ppn else "1",
           "PBS_NP": ppn.group(1) if ppn else "1", "PBS_VERSION": "TORQUE-6.1.2-fake"}
    if index is not None:
        env["PBS_ARRAYID"] = str(index)
    return env


def torque_plan(state: Path, sub: Submission) -> tuple[list[Task], str, str]:
    seq = str(allocate_ids(state, 1)[0])
    is_array = sub.opts.has("-t")
    base = f"{seq}[].{PBS_SERVER}" if is_array else f"{seq}.{PBS_SERVER}"

    def task_id(index: int) -> str:
        return base if index < 0 else f"{seq}[{index}].{PBS_SERVER}"

    tasks = pbs_tasks(state, sub, "qsub", (seq, task_id), lambda index, key: {})
    tasks = [task._replace(submit_id=base, scheduler="torque",
                           aliases=(task.key, task.key.split(".", 1)[0], base,
                                    base.split(".", 1)[0], seq))
             for task in tasks]
    return tasks, f"{base}\n", ""


def pbs_rejection(sub: Submission) -> FakeError:
    return FakeError("qsub: submit error (Unknown queue MSG=requested queue not found)", 1)


def moab_unknown(token: str) -> FakeError:
    return FakeError(f"ERROR:    unknown option '{token}'\nUsage: msub [FLAGS] [SCRIPT]", 1)


def moab_read(prog: str, argv: list[str], stdin_text: Optional[str]) -> Submission:
    return _pbs_like_read(prog, argv, stdin_text, ("#MSUB", "#PBS"), moab_unknown, "msub")


def moab_plan(state: Path, sub: Submission) -> tuple[list[Task], str, str]:
    seq = str(allocate_ids(state, 1)[0])
    spec = sub.opts.last("-t")
    count = len(pbs_array(spec, "msub") or []) if spec else 0

    def task_id(index: int) -> str:
        return seq if index < 0 else f"{seq}[{index}]"

    def moab_vars(index: Optional[int], key: str) -> dict[str, str]:
        env = {"MOAB_JOBID": key, "MOAB_JOBNAME": pbs_name(sub),
               "MOAB_SUBMITDIR": sub.cwd, "MOAB_CLASS": sub.opts.last("-q") or "batch",
               "MOAB_USER": user_name(), "MOAB_NODECOUNT": "1", "MOAB_NODELIST": "localhost"}
        if index is not None:
            env.update(MOAB_JOBARRAYINDEX=str(index), MOAB_JOBARRAYRANGE=str(count),
                       PBS_JOBID=f"{seq}[{index}].{PBS_SERVER}")
        return env

    tasks = pbs_tasks(state, sub, "msub", (seq, task_id), moab_vars)
    tasks = [task._replace(submit_id=seq, scheduler="mwm", aliases=(task.key, f"Moab.{task.key}"))
             for task in tasks]
    return tasks, f"\n{seq}\n", ""


def moab_rejection(sub: Submission) -> FakeError:
    return FakeError("ERROR:    cannot submit job - invalid class requested", 1)


TORQUE = Flavour("qsub", pbs_read, torque_plan, pbs_rejection)
MOAB = Flavour("msub", moab_read, moab_plan, moab_rejection)
