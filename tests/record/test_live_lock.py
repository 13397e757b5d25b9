"""The live-run lock (record.live), the id counter's validation, and info.yaml writes of
record.info that must succeed under faults (cancelled before start, a full disk)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlxp_core.record import info as run_info
from mlxp_core.record import layout, live

HOLD = """
import sys, time
from pathlib import Path
from mlxp_core.record import live
lock = live.acquire(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
print('LOCKED', flush=True)
time.sleep(60)
"""


def _run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "logs" / "1"
    (run_dir / "metadata").mkdir(parents=True)
    return run_dir


def _holder(run_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], text=True,
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "LOCKED"
    return proc


def test_a_live_holder_is_named_and_the_lock_dies_with_it(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    holder = _holder(run_dir)
    try:
        with pytest.raises(live.RunBusy) as busy:
            live.acquire(run_dir)
        assert f"process {holder.pid} on {socket.gethostname()}" in str(busy.value)
    finally:
        holder.kill()  # kill -9: no clean-up code runs
        holder.wait()
    lock = live.acquire(run_dir)  # the kernel released it
    lock.release()


def test_release_removes_the_owner_record(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    lock = live.acquire(run_dir)
    owner = json.loads((run_dir / "metadata" / live.OWNER_FILE).read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    lock.release()
    assert not (run_dir / "metadata" / live.OWNER_FILE).exists()


def _foreign_owner(run_dir: Path, age_s: float, job_id: str | None = None) -> None:
    path = run_dir / "metadata" / live.OWNER_FILE
    path.write_text(json.dumps({"host": "node-elsewhere", "pid": 4242, "job_id": job_id}))
    then = time.time() - age_s
    os.utime(path, (then, then))
    layout.info_path(run_dir).write_text("status: RUNNING\n")


def test_without_coherent_locks_a_fresh_heartbeat_of_another_host_refuses(
        tmp_path: Path) -> None:
    """The fallback where lockf does not reach the other host: the owner's heartbeat."""
    run_dir = _run_dir(tmp_path)
    _foreign_owner(run_dir, age_s=5)
    with pytest.raises(live.RunBusy, match=r"process 4242 on node-elsewhere.*heartbeat"):
        live.acquire(run_dir)
    _foreign_owner(run_dir, age_s=live.STALE_AFTER_S + 5)  # that host died long ago
    live.acquire(run_dir).release()
    _foreign_owner(run_dir, age_s=5, job_id="77")  # a requeue of the same scheduler job
    live.acquire(run_dir, job_id="77").release()


def test_still_ours_notices_a_removed_or_replaced_directory(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    lock = live.acquire(run_dir, heartbeat=False)
    assert lock.still_ours()
    os.rename(run_dir, tmp_path / "moved")
    (run_dir / "metadata").mkdir(parents=True)  # a new run got the same id
    (run_dir / "metadata" / live.LOCK_FILE).touch()
    assert not lock.still_ours()
    with pytest.raises(live.RunDirectoryGone):
        lock.check()
    lock.release()
    assert (run_dir / "metadata" / live.LOCK_FILE).exists()  # the new run's file is kept


# -- the id counter -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["-10", "1e23", "100000000000000000000000", "abc"])
def test_a_bad_counter_is_recovered_from_the_largest_run(tmp_path: Path, bad: str,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    parent = tmp_path / "logs"
    layout.allocate_many(parent, 3)
    (parent / layout.STATE_DIR / layout.COUNTER_FILE).write_text(bad + "\n")
    log_id, path = layout.allocate(parent)
    assert log_id == 4 and path == parent / "4"
    assert "not a run id" in caplog.text and str(parent / ".mlxp" / "last_id") in caplog.text
    assert (parent / ".mlxp" / "last_id").read_text().strip() == "4"  # repaired


def test_adopting_an_id_out_of_range_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "logs"
    for bad in (0, -9, 10**23, layout.MAX_LOG_ID + 1):
        with pytest.raises(ValueError, match="out of range"):
            layout.adopt(parent, bad)
    assert not parent.exists()  # nothing created, the counter did not move
    assert layout.allocate(parent)[0] == 1


# -- record.info under faults ---------------------------------------------------------------


def test_record_not_started_only_touches_runs_that_did_not_start(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    info = run_info.submission_record(1, run_dir, ["a=1"], "local", run_dir / "script.sh")
    run_info.record_submission(run_dir, info, run_info.SUBMITTED)
    assert run_info.record_not_started(run_dir, "SIGINT") == run_info.INTERRUPTED
    data = run_info.read_info(run_dir)
    assert data["status"] == "INTERRUPTED" and "cancelled before start" in data["signal"]
    assert data["submit"]["scheduler"] == "local" and "end_time" in data
    layout.info_path(run_dir).write_text("status: RUNNING\n")
    assert run_info.record_not_started(run_dir, "SIGINT") is None
    assert run_info.read_status(run_dir) == "RUNNING"


def test_final_record_is_written_on_a_full_disk(tmp_path: Path) -> None:
    """A real tmpfs filled to the last byte: the reserve is given back for the final record."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        run_dir = _run_dir(mount)
        info = run_info.start_record(1, run_dir, {}, {"hostname": "h"})
        run_info.reserve_space(run_dir)
        run_info.write_job_record(run_dir, info)
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        with pytest.raises(OSError):  # fill the disk to the last block
            while True:
                os.write(fd, b"\0" * 4096)
        os.close(fd)
        with pytest.raises(OSError):
            (mount / "probe").write_bytes(b"x" * 4096)
        run_info.end_record(info, run_info.FAILED, 1.0,
                            {"type": "DiskFull", "message": "m", "traceback": "t" * 2000})
        run_info.write_job_record(run_dir, info)
        data = yaml.safe_load(layout.info_path(run_dir).read_text())
        assert data["status"] == "FAILED" and data["error"]["type"] == "DiskFull"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
