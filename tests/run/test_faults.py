"""Fault injection, on every CI run: kill -9, signals at the worst moments, a full disk, a
removed logs directory, a concurrent resume, a hung submit command.

Each attack runs a real app in a real process; the promises checked are those of
docs/guarantees.md (each test is named there). The whole module takes ~30 s on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import yaml
from conftest import info, run, run_dirs, write_app
from fakes.helpers import fake_env

LOOP = """
n = int(os.environ.get('N', '1000000000'))
for i in range(n):
    ctx.logger.log_metrics({'i': i, 'pad': 'x' * int(os.environ.get('PAD', '10'))}, 'm')
    if i == 0:
        print('READY', flush=True)
    if os.environ.get('NAP'):
        time.sleep(float(os.environ['NAP']))
"""


def _start(app: Path, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.Popen[str]:
    full = {**os.environ, **(env or {})}
    full.pop("HYDRA_FULL_ERROR", None)
    return subprocess.Popen([sys.executable, "main.py", *args], cwd=app, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_ready(proc: subprocess.Popen[str], timeout: float = 30) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        if line.startswith("READY"):
            return
        assert time.monotonic() < deadline, "the task did not start"
    raise AssertionError(f"the task ended before it was ready: {proc.wait()} "
                         f"{proc.stderr.read() if proc.stderr else ''}")


def _lines(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- kill -9 ---------------------------------------------------------------------------------


def test_kill9_then_resume_keeps_every_whole_line(app: Path) -> None:
    """kill -9 mid-logging, then resume: earlier lines parse, only a partial tail is dropped,
    and the resumed run appends after them."""
    write_app(app, LOOP)
    proc = _start(app, env={"PAD": "300"})
    _wait_ready(proc)
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    metrics = app / "logs/1/metrics/m.json"
    before = metrics.read_bytes()
    whole = before[: before.rfind(b"\n") + 1]
    assert info(app, 1)["status"] == "RUNNING"  # what kill -9 leaves: nobody could write more
    done = run(app, "+mlxp.logger.forced_log_id=1", env={"N": "3"})
    assert done.returncode == 0, done.stderr
    after = metrics.read_bytes()
    assert after.startswith(whole)
    tail = [json.loads(line) for line in after[len(whole):].splitlines()]
    assert [r["i"] for r in tail] == [0, 1, 2]
    assert info(app, 1)["status"] == "COMPLETE" and info(app, 1)["attempt"] == 2


def test_kill9_mid_checkpoint_leaves_no_stale_temporaries(app: Path) -> None:
    """Checkpoint temporaries of a killed writer are removed by the next save of that name."""
    write_app(app, """
if os.environ.get('BIG'):
    ctx.logger.log_checkpoint(b'x' * (64 << 20), 'ckpt')
print('READY', flush=True)
ctx.logger.log_checkpoint({'step': 1}, 'ckpt')
""")
    proc = _start(app, env={"BIG": "1"})
    pickle_dir = app / "logs/1/artifacts/pickle"
    deadline = time.monotonic() + 30
    while not list(pickle_dir.glob(".ckpt.pkl.*.tmp")):  # kill it while it writes
        assert time.monotonic() < deadline and proc.poll() is None, "no temporary file seen"
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    assert list(pickle_dir.glob(".ckpt.pkl.*.tmp"))  # the debris kill -9 leaves
    done = run(app, "+mlxp.logger.forced_log_id=1")
    assert done.returncode == 0, done.stderr
    assert not list(pickle_dir.glob(".*.tmp"))
    assert (pickle_dir / "ckpt.pkl").is_file()


# -- signals ---------------------------------------------------------------------------------


def test_two_sigterms_in_a_row_always_record_the_end(app: Path) -> None:
    """A second SIGTERM while the first one's ending is written: still INTERRUPTED."""
    write_app(app, LOOP)
    for attempt in range(8):
        proc = _start(app, env={"NAP": "0.001"})
        _wait_ready(proc)
        os.kill(proc.pid, signal.SIGTERM)
        time.sleep(attempt * 0.0005)
        _kill_quietly(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode != 0
        meta = info(app, attempt + 1)
        assert meta["status"] == "INTERRUPTED", (attempt, meta["status"])
        assert meta["signal"] == "SIGTERM" and "end_time" in meta


def _kill_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass  # it had already ended: fine


def test_sigterm_at_start_never_leaves_a_directory_without_a_record(app: Path) -> None:
    """SIGTERM as soon as the run directory appears: no directory, or one with a status."""
    write_app(app, "time.sleep(30)")
    for attempt in range(6):
        proc = _start(app)
        logs = app / "logs"
        deadline = time.monotonic() + 30
        while not any(p.name.isdigit() for p in (logs.iterdir() if logs.is_dir() else ())):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.0005)
        time.sleep(attempt * 0.001)
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode != 0
    for log_id in run_dirs(app):
        meta = app / "logs" / str(log_id) / "metadata" / "info.yaml"
        assert meta.is_file(), f"run {log_id} has no record"
        assert yaml.safe_load(meta.read_text())["status"] == "INTERRUPTED"


# -- disk full -------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A real 1 MiB tmpfs mounted for the test (ENOSPC from the kernel, not a mock)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"cannot mount a tmpfs: {done.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_logging_records_failed(app: Path, small_disk: Path) -> None:
    write_app(app, LOOP)
    done = run(app, f"+mlxp.logger.parent_log_dir={small_disk}/logs", env={"PAD": "200"})
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "Traceback" not in out
    said = [line for line in out.splitlines() if "no space left" in line]
    assert len(said) == 1 and "run 1 FAILED" in said[0], out
    meta = yaml.safe_load((small_disk / "logs/1/metadata/info.yaml").read_text())
    assert meta["status"] == "FAILED" and meta["error"]["type"] == "DiskFull"
    rows = _lines(small_disk / "logs/1/metrics/m.json")  # every line whole, in order
    assert [r["i"] for r in rows] == list(range(len(rows))) and len(rows) > 100
    assert not (small_disk / "logs/1/metadata/.reserve").exists()


# -- directory removed -----------------------------------------------------------------------


def test_logs_removed_while_running_fails_and_recreates_nothing(app: Path) -> None:
    write_app(app, LOOP)
    proc = _start(app, env={"NAP": "0.01", "N": "200"})
    _wait_ready(proc)
    subprocess.run(["rm", "-rf", str(app / "logs")], check=True)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "was removed" in out + err
    assert not (app / "logs").exists()


# -- concurrent resume -----------------------------------------------------------------------


def test_resume_of_a_live_run_is_refused_naming_host_and_pid(app: Path) -> None:
    write_app(app, LOOP)
    first = _start(app, env={"NAP": "0.01", "N": "150"})
    _wait_ready(first)
    second = run(app, "+mlxp.logger.forced_log_id=1", env={"N": "5"})
    assert second.returncode == 1
    text = second.stdout + second.stderr
    assert "Traceback" not in text and "FAILED" not in text
    assert f"process {first.pid} on " in text and "run 1" in text
    assert info(app, 1)["status"] == "RUNNING"  # untouched by the refused command
    first.communicate(timeout=60)
    assert first.returncode == 0
    assert [r["i"] for r in _lines(app / "logs/1/metrics/m.json")] == list(range(150))
    assert info(app, 1)["status"] == "COMPLETE" and info(app, 1)["attempt"] == 1
    again = run(app, "+mlxp.logger.forced_log_id=1", env={"N": "1"})  # it ended: allowed
    assert again.returncode == 0, again.stderr


# -- scheduler hang --------------------------------------------------------------------------


def test_hung_submit_command_costs_one_deadline(app: Path, tmp_path: Path) -> None:
    """A submit command that never answers: killed with its process group at the deadline;
    every job not submitted is SUBMIT_FAILED with the reason."""
    write_app(app, "print('hi')")
    env = fake_env(tmp_path)
    hung_bin = tmp_path / "hung"
    hung_bin.mkdir()
    pids = tmp_path / "pids"
    (hung_bin / "sbatch").write_text(
        "#!/bin/bash\n"
        f"echo $$ >> {pids}\n"
        f"sleep 300 & echo $! >> {pids}\n"  # a child of its own: killed with the group
        "wait\n")
    (hung_bin / "sbatch").chmod(0o755)
    env["PATH"] = f"{hung_bin}{os.pathsep}{env['PATH']}"
    started = time.monotonic()
    done = run(app, "seed=1,2,3,4,5", "hydra/launcher=mlxp_slurm",
               "hydra.launcher.submit_timeout=2", env=env, timeout=60)
    took = time.monotonic() - started
    assert took < 20, took
    assert done.returncode == 1 and "5 of 5 submissions failed" in done.stderr, done.stderr
    statuses = [info(app, i)["status"] for i in run_dirs(app)]
    assert statuses == ["SUBMIT_FAILED"] * 5
    errors = [info(app, i)["submit"]["error"] for i in run_dirs(app)]
    assert "did not answer within" in errors[0] and "submit_timeout=2" in errors[0]
    assert all(e.startswith("not submitted: ") for e in errors[1:])
    time.sleep(0.2)
    assert not [pid for pid in pids.read_text().split() if _alive(int(pid))]


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a zombie has ended: only its parent, maybe
    a container's init that does not reap, has not collected it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
