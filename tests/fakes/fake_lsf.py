"""Fake `bsub < script` (LSF): see fakesched.py for what every fake does."""

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
    out_path,
    parse_words,
    replace_all,
)

LSF_OPTIONS = {
    "-J": 1, "-o": 1, "-oo": 1, "-e": 1, "-eo": 1, "-q": 1, "-n": 1, "-R": 1, "-M": 1, "-W": 1,
    "-gpu": 1, "-P": 1, "-cwd": 1, "-G": 1, "-app": 1, "-x": 0, "-B": 0, "-N": 0, "-u": 1,
    "-w": 1, "-We": 1, "-env": 1, "-L": 1, "-outdir": 1, "-r": 0, "-rn": 0,
}
LSF_USAGE = ("Usage: bsub [-h] [-V] [-H] [-x] [-r | -rn] [-N] [-B] [-I | -Ip | -Is | -K] "
             "[-q queue_name ...] [-m host_name[+[pref_level]] | host_group[+[pref_level]]...] "
             "[-n min_processors[,max_processors]] [-R res_req] [-J job_name] [-o out_file] "
             "[-e err_file] [-W [hour:]minute] [-M mem_limit] [-P project_name] "
             "[-cwd current_working_directory] [-gpu - | \"gpu_req\"] [command [argument ...]]")
LSF_NAME_RE = re.compile(r"([^\[\]]*)(?:\[([\d,:-]+)\](?:%(\d+))?)?")


def lsf_unknown(token: str) -> FakeError:
    return FakeError(f"bsub: illegal option -- {token.lstrip('-')[:1]}\n{LSF_USAGE}", 255)


def lsf_read(prog: str, argv: list[str], stdin_text: Optional[str]) -> Submission:
    cli = Options()
    command = parse_words(argv, LSF_OPTIONS, cli, lsf_unknown)
    cwd = os.getcwd()
    if command:
        text = "#!/bin/sh\n" + shlex.join(command) + "\n"
    else:
        text = stdin_text if stdin_text is not None else sys.stdin.read()
        if not text.strip():
            raise FakeError("No command is specified. Job not submitted.", 255)
    opts = Options()
    for _, rest_of_line in directive_texts(text, ("#BSUB",)):
        parse_words(shlex.split(rest_of_line), LSF_OPTIONS, opts, lsf_unknown)
    opts.items.extend(cli.items)
    lsf_validate(opts)
    return Submission(prog, argv, cwd, None, text, opts)


def lsf_validate(opts: Options) -> None:
    checks = [
        ("-n", r"\d+(,\d+)?", "Bad argument for option -n. Job not submitted."),
        ("-W", r"(\d+:)?\d+", "Bad RUNLIMIT specification. Job not submitted."),
        ("-M", r"\d+(\.\d+)?\s*([KMGTPE]B?)?", "Bad argument for option -M. Job not submitted."),
        ("-gpu", r"-|(num=\d+)?([:;]?[\w=.-]+)*", "Bad argument for option -gpu. Job not "
                                                   "submitted."),
    ]
    for name, pattern, message in checks:
        value = opts.last(name)
        if value is not None and not re.fullmatch(pattern, value, re.I):
            raise FakeError(message, 255)
    name = opts.last("-J")
    if name is not None and lsf_name(name) is None:
        raise FakeError("Bad job name. Job not submitted.", 255)


def lsf_name(spec: str) -> Optional[tuple[str, list[int]]]:
    match = LSF_NAME_RE.fullmatch(spec)
    if not match:
        return None
    if match.group(2) is None:
        return match.group(1), []
    indexes = expand_ranges(match.group(2))
    if not indexes or min(indexes) < 1:
        return None
    return match.group(1), indexes


def lsf_plan(state: Path, sub: Submission) -> tuple[list[Task], str, str]:
    opts = sub.opts
    job_id = allocate_ids(state, 1)[0]
    script = copy_script(state, sub, job_id)
    name, indexes = lsf_name(opts.last("-J") or "STDIN") or ("STDIN", [])
    queue = opts.last("-q")
    workdir = out_path(opts.last("-cwd") or sub.cwd, sub.cwd)
    mail = state / "mail"
    mail.mkdir(exist_ok=True)
    tasks = []
    for index in indexes or [None]:
        key = str(job_id) if index is None else f"{job_id}[{index}]"
        values = {"%J": str(job_id), "%I": str(index or 0)}
        out_option = opts.last("-oo") or opts.last("-o")
        err_option = opts.last("-eo") or opts.last("-e")
        stdout = (out_path(replace_all(out_option, values), workdir) if out_option
                  else str(mail / f"{key}.mail"))
        stderr = out_path(replace_all(err_option, values), workdir) if err_option else stdout
        env = {"LSB_JOBID": str(job_id), "LSB_JOBINDEX": str(index or 0),
               "LSB_JOBNAME": name if index is None else f"{name}[{index}]",
               "LSB_QUEUE": queue or "normal", "LSB_HOSTS": "localhost",
               "LSB_MCPU_HOSTS": f"localhost {opts.last('-n') or 1}",
               "LSB_DJOB_NUMPROC": (opts.last("-n") or "1").split(",")[0],
               "LS_SUBCWD": sub.cwd, "LSB_JOBFILENAME": script, "LSB_OUTPUTFILE": stdout,
               "LSB_ERRORFILE": stderr}
        mode = "w" if opts.has("-oo") else "a"
        tasks.append(Task(key, str(job_id), "lsf", [script], workdir, stdout, stderr, mode,
                          env, inherit_env=True, aliases=(key,)))
    where = f"queue <{queue}>" if queue else "default queue <normal>"
    return tasks, f"Job <{job_id}> is submitted to {where}.\n", ""


def lsf_rejection(sub: Submission) -> FakeError:
    return FakeError(f"{sub.opts.last('-q') or 'normal'}: No such queue. Job not submitted.",
                     255)


LSF = Flavour("bsub", lsf_read, lsf_plan, lsf_rejection)
