"""Fake `oarsub -S script` (OAR): see fakesched.py for what every fake does."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from fakesched import (
    FakeError,
    Flavour,
    Options,
    Submission,
    Task,
    allocate_ids,
    directive_texts,
    hms_seconds,
    out_path,
    read_file,
    replace_all,
    user_name,
)

OAR_OPTIONS = {
    "-n": "name", "--name": "name", "-O": "stdout", "--stdout": "stdout", "-E": "stderr",
    "--stderr": "stderr", "-l": "resource", "--resource": "resource", "-t": "type",
    "--type": "type", "-q": "queue", "--queue": "queue", "-p": "property",
    "--property": "property", "--project": "project", "--array": "array",
    "--array-param-file": "array-param-file", "-d": "directory", "--directory": "directory",
    "--notify": "notify", "-a": "anterior", "--anterior": "anterior",
    "--checkpoint": "checkpoint", "--signal": "signal", "-S": "scanscript",
    "--scanscript": "scanscript",
}
OAR_TYPES = {"besteffort", "idempotent", "deploy", "cosystem", "container", "noop", "night",
             "day", "allow_classic_ssh", "timesharing", "token", "inner", "placeholder",
             "allowed", "exotic", "production"}
OAR_PART_RE = re.compile(r"/?\w+(=\w+)?(\{[^}]*\})?(/\w+=\w+(\{[^}]*\})?)*")
DEFAULT_WALLTIME = 7200


def oar_read(prog: str, argv: list[str], stdin_text: Optional[str]) -> Submission:
    cli = Options()
    i = 0
    while i < len(argv):
        token = argv[i]
        option, eq, value = token.partition("=")
        if option not in OAR_OPTIONS:
            if token.startswith("-"):
                raise FakeError(f"Unknown option: {token.lstrip('-')}\n[ERROR] oarsub: bad "
                                f"options, see oarsub --help", 1)
            raise FakeError(f"{prog} (fake): only the 'oarsub [options] -S script' form is "
                            f"implemented, got the command {token!r}", 2)
        if not eq:
            if i + 1 >= len(argv):
                raise FakeError(f"Option {option.lstrip('-')} requires an argument", 1)
            i, value = i + 1, argv[i + 1]
        cli.add(OAR_OPTIONS[option], value)
        i += 1
    script = cli.last("scanscript")
    if script is None:
        raise FakeError(f"{prog} (fake): no -S script given", 2)
    cwd = os.getcwd()
    path, text = read_file(script, cwd, "[ERROR] The script {path} cannot be read")
    if not os.access(path, os.X_OK):
        raise FakeError(f"[ERROR] The script {script} is not executable", 1)
    opts = Options()
    for _, rest_of_line in directive_texts(text, ("#OAR",)):
        oar_directive(rest_of_line, opts)
    opts.items.extend(item for item in cli.items if item[0] != "scanscript")
    oar_validate(opts)
    return Submission(prog, argv, cwd, path, text, opts)


def oar_directive(text: str, into: Options) -> None:
    """OAR reads the whole rest of the line as the option's value."""
    match = re.fullmatch(r"(-{1,2}[A-Za-z][\w-]*)(?:\s*=\s*|\s+)?(.*)", text)
    if not match or match.group(1) not in OAR_OPTIONS:
        raise FakeError(f"[ERROR] Unknown option in the script header: #OAR {text}", 1)
    into.add(OAR_OPTIONS[match.group(1)], match.group(2).strip())


def oar_validate(opts: Options) -> None:
    for spec in opts.all("resource"):
        for part in re.sub(r"\s+", "", spec).split(","):
            if part.startswith("walltime="):
                if hms_seconds(part[len("walltime="):]) is None:
                    raise FakeError(f"[ERROR] Bad walltime format: {part}", 1)
            elif not OAR_PART_RE.fullmatch(part):
                raise FakeError(f"[ERROR] Bad resource request: {spec}", 1)
    for job_type in opts.all("type"):
        base = re.split(r"[=:]", job_type, maxsplit=1)[0]
        if base not in OAR_TYPES:
            raise FakeError(f"[ADMISSION RULE] Error: unknown job type {job_type}", 1)
    count = opts.last("array")
    if count is not None and not (count.isdigit() and int(count) > 0):
        raise FakeError(f"[ERROR] Bad array request: {count}", 1)


def oar_walltime(opts: Options) -> Optional[int]:
    for spec in opts.all("resource"):
        for part in re.sub(r"\s+", "", spec).split(","):
            if part.startswith("walltime="):
                return hms_seconds(part[len("walltime="):])
    return None


def oar_plan(state: Path, sub: Submission) -> tuple[list[Task], str, str]:
    opts = sub.opts
    count = int(opts.last("array") or 1)
    ids = allocate_ids(state, count)
    name = opts.last("name") or ""
    workdir = out_path(opts.last("directory") or sub.cwd, sub.cwd)
    walltime = oar_walltime(opts)
    seconds = walltime or DEFAULT_WALLTIME
    nodefile = state / "nodefile"
    nodefile.write_text("localhost\n")
    tasks = []
    for index, job_id in enumerate(ids, start=1):
        values = {"%jobid%": str(job_id), "%jobname%": name}
        default = "OAR.%jobname%.%jobid%" if name else "OAR.%jobid%"
        stdout = out_path(replace_all(opts.last("stdout") or default + ".stdout", values),
                          workdir)
        stderr = out_path(replace_all(opts.last("stderr") or default + ".stderr", values),
                          workdir)
        env = oar_env(job_id, ids[0], index, name, workdir, seconds, stdout, stderr)
        env.update(OAR_NODEFILE=str(nodefile), OAR_NODE_FILE=str(nodefile),
                   OAR_PROJECT_NAME=opts.last("project") or "default")
        tasks.append(Task(str(job_id), str(ids[0]), "oar", [str(sub.script_path)], workdir,
                          stdout, stderr, "w", env, inherit_env=False, aliases=(str(job_id),)))
    lines = [] if walltime else [f"[ADMISSION RULE] Set default walltime to {DEFAULT_WALLTIME}."]
    lines.append("[ADMISSION RULE] Modify resource description with type constraints")
    lines.extend(f"OAR_JOB_ID={job_id}" for job_id in ids)
    err = ""
    if opts.has("array"):
        lines.append(f"OAR_ARRAY_ID={ids[0]}")
        err = "Simple array job submission is used\n"
    return tasks, "\n".join(lines) + "\n", err




def oar_env(job_id: int, array_id: int, index: int, name: str, workdir: str, seconds: int,
            stdout: str, stderr: str) -> dict[str, str]:
    hours, rest = divmod(seconds, 3600)
    walltime = f"{hours}:{rest // 60}:{rest % 60}"
    return {"OAR_JOB_ID": str(job_id), "OAR_JOBID": str(job_id), "OAR_JOB_NAME": name,
            "OAR_ARRAY_ID": str(array_id), "OAR_ARRAYID": str(array_id),
            "OAR_ARRAY_INDEX": str(index), "OAR_ARRAYINDEX": str(index),
            "OAR_WORKDIR": workdir, "OAR_O_WORKDIR": workdir, "OAR_WORKING_DIRECTORY": workdir,
            "OAR_USER": user_name(), "OAR_JOB_WALLTIME": walltime,
            "OAR_JOB_WALLTIME_SECONDS": str(seconds), "OAR_STDOUT": stdout,
            "OAR_STDERR": stderr}


def oar_rejection(sub: Submission) -> FakeError:
    return FakeError("[ADMISSION RULE] Modify resource description with type constraints\n"
                     "There are not enough resources for your request", 5,
                     stdout="OAR_JOB_ID= -5\n")


OAR = Flavour("oarsub", oar_read, oar_plan, oar_rejection)
