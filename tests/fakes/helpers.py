"""Pytest helpers for the fake scheduler commands in ``tests/fakes/bin``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Iterable, Optional, Union

FAKES_DIR = Path(__file__).resolve().parent
BIN_DIR = FAKES_DIR / "bin"
FINISHED = ("COMPLETED", "FAILED", "CANCELLED")

# Variables that would make a job (or job_id_from_env) believe it runs under a real scheduler.
_SCHEDULER_VAR_PREFIXES = ("SLURM_", "OAR_", "PBS_", "SGE_", "LSB_", "MOAB_", "FAKE_SCHED_")
_SCHEDULER_VARS = ("JOB_ID", "JOB_NAME")


def fake_env(tmp_path: Path, **knobs: str) -> dict[str, str]:
    """An environment for running the fakes: ``PATH`` with the fakes first, ``FAKE_SCHED_DIR``.

    The running interpreter's directory comes right after the fakes, so their
    ``#!/usr/bin/env python3`` starts quickly (no pyenv-style shim). ``knobs`` are added as
    ``FAKE_SCHED_<NAME>`` (``norun='1'`` -> ``FAKE_SCHED_NORUN=1``).
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_SCHEDULER_VAR_PREFIXES) and k not in _SCHEDULER_VARS}
    python_dir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join([str(BIN_DIR), python_dir, env.get("PATH", os.defpath)])
    state = tmp_path / "fakesched"
    state.mkdir(parents=True, exist_ok=True)
    env["FAKE_SCHED_DIR"] = str(state)
    for name, value in knobs.items():
        env[f"FAKE_SCHED_{name.upper()}"] = value
    return env


def records(fake_dir: Union[str, Path]) -> list[dict]:
    """Every job record the fakes wrote (one per job or array task)."""
    jobs = Path(fake_dir) / "jobs"
    return [json.loads(p.read_text()) for p in sorted(jobs.glob("*.json"))]


def _matching(fake_dir: Union[str, Path], ids: Iterable[str]) -> dict[str, list[dict]]:
    wanted = {str(i): [] for i in ids}  # type: dict[str, list[dict]]
    for record in records(fake_dir):
        for job_id in wanted:
            if job_id == record["submit_id"] or job_id in record["aliases"]:
                wanted[job_id].append(record)
    return wanted


def wait_for_jobs(fake_dir: Union[str, Path], ids: Iterable[str],
                  timeout: float = 10.0) -> dict[str, Optional[int]]:
    """Wait until every job (or every task of every array) in ``ids`` has ended.

    Returns ``{record key: exit code}`` (``None`` for a job cancelled before it started).
    Raises ``TimeoutError`` listing the jobs still going.
    """
    ids = [str(i) for i in ids]
    deadline = time.monotonic() + timeout
    while True:
        found = _matching(fake_dir, ids)
        done = all(found[i] and all(r["end_time"] for r in found[i]) for i in ids)
        if done:
            return {r["key"]: r["exit_code"] for rs in found.values() for r in rs}
        if time.monotonic() > deadline:
            going = {i: [(r["key"], r["state"]) for r in rs] for i, rs in found.items()}
            raise TimeoutError(f"fake jobs still not finished after {timeout} s: {going}")
        time.sleep(0.02)


def wait_for_text(path: Union[str, Path], text: str, timeout: float = 10.0) -> str:
    """Wait until file ``path`` contains ``text``; returns the file's content."""
    deadline = time.monotonic() + timeout
    while True:
        content = Path(path).read_text() if Path(path).exists() else ""
        if text in content:
            return content
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} still lacks {text!r} after {timeout} s: {content!r}")
        time.sleep(0.02)


def calls(fake_dir: Union[str, Path], prog: Optional[str] = None) -> list[dict]:
    """Every fake scheduler command run (``{"prog", "argv", "time"}``), optionally one kind."""
    path = Path(fake_dir) / "calls.log"
    if not path.is_file():
        return []
    found = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [c for c in found if prog is None or c["prog"] == prog]


def set_final_state(fake_dir: Union[str, Path], key: str, state: str) -> None:
    """Make job ``key`` end as the scheduler decided (``TIMEOUT``, ``OUT_OF_MEMORY`` ...)."""
    path = Path(fake_dir) / "jobs" / f"{key}.json"
    record = json.loads(path.read_text())
    record["final"] = state
    path.write_text(json.dumps(record))


def add_job(fake_dir: Union[str, Path], key: str, scheduler: str, state: str,
            submit_id: Optional[str] = None, array_keys: Optional[list[str]] = None,
            env: Optional[dict[str, str]] = None) -> None:
    """A job record as the fake submit commands write it (a queue already holding jobs);
    ``array_keys``: one record standing for all the tasks of a pending array."""
    now = time.time()
    record = {"key": key, "submit_id": submit_id or key.split("_")[0], "scheduler": scheduler,
              "state": state, "env": env or {}, "aliases": [key], "pid": None, "pgid": None,
              "exit_code": None, "signal": None, "submit_time": now,
              "start_time": now if state != "PENDING" else None,
              "end_time": now if state in FINISHED else None,
              "norun_array_keys": array_keys}
    jobs = Path(fake_dir) / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    (jobs / f"{key}.json").write_text(json.dumps(record))
