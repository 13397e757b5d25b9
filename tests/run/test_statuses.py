"""Run statuses and exit codes: COMPLETE, FAILED, INTERRUPTED (SIGTERM, SIGINT), kill -9, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from conftest import info, run, run_dirs, write_app

SLEEPER = """
ctx.logger.log_metrics({'step': 0}, log_name='train')
ctx.logger.flush()
open('READY', 'w').close()
time.sleep(60)
"""


def _start(app: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "main.py", *args], cwd=app, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_failed_run_records_error_and_exits_non_zero(app: Path) -> None:
    write_app(app, "raise ValueError('boom at ' + str(ctx.config.seed))")
    proc = run(app)
    assert proc.returncode != 0
    meta = info(app, 1)
    assert meta["status"] == "FAILED"
    assert meta["error"]["type"] == "ValueError"
    assert meta["error"]["message"] == "boom at 0"
    assert "main.py" in meta["error"]["traceback"] and "ValueError" in meta["error"]["traceback"]
    assert "end_time" in meta and meta["duration_s"] >= 0


def test_failing_point_does_not_stop_the_sweep(app: Path) -> None:
    write_app(app, "if ctx.config.seed == 2:\n    raise RuntimeError('bad seed')")
    proc = run(app, "seed=1,2,3")
    assert proc.returncode != 0
    assert [info(app, i)["status"] for i in (1, 2, 3)] == ["COMPLETE", "FAILED", "COMPLETE"]
    assert "1 of 3 runs did not complete" in proc.stderr
    assert f"run 2 FAILED (RuntimeError: bad seed): {app / 'logs' / '2'}" in proc.stderr


def test_sigterm_marks_interrupted_and_exits_non_zero(app: Path) -> None:
    write_app(app, SLEEPER)
    proc = _start(app)
    _wait_for(app / "READY", proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    meta = info(app, 1)
    assert meta["status"] == "INTERRUPTED" and meta["signal"] == "SIGTERM"
    assert meta["duration_s"] > 0 and "end_time" in meta
    assert (app / "logs/1/metrics/train.json").read_text() == '{"step": 0}\n'


def test_sigint_marks_interrupted_and_exits_non_zero(app: Path) -> None:
    write_app(app, SLEEPER)
    proc = _start(app)
    _wait_for(app / "READY", proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    meta = info(app, 1)
    assert meta["status"] == "INTERRUPTED" and meta["signal"] == "SIGINT"


def test_sigterm_stops_a_sweep(app: Path) -> None:
    write_app(app, SLEEPER)
    proc = _start(app, "seed=1,2")
    _wait_for(app / "READY", proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert run_dirs(app) == [1]
    assert info(app, 1)["status"] == "INTERRUPTED"


def test_kill_9_during_logging_keeps_earlier_lines_and_resume_repairs_the_tail(app: Path) -> None:
    body = """
    i = 0
    if ctx.info.attempt > 1:
        ctx.logger.log_metrics({'resumed': True}, log_name='train')
        return
    while True:
        ctx.logger.log_metrics({'i': i, 'pad': 'x' * (i % 50)}, log_name='train')
        i += 1
        if i == 2000:
            open('READY', 'w').close()
    """
    write_app(app, body, mlxp_yaml="logger:\n  flush_interval_s: 0.001\n")
    proc = _start(app)
    _wait_for(app / "READY", proc)
    time.sleep(0.3)
    proc.kill()
    proc.communicate(timeout=30)
    data = (app / "logs/1/metrics/train.json").read_bytes()
    complete, _, tail = data.rpartition(b"\n")
    lines = [json.loads(x) for x in complete.decode().splitlines()]
    assert len(lines) >= 2000
    assert [x["i"] for x in lines] == list(range(len(lines)))  # nothing lost before the end
    if tail:  # an unterminated last line may remain from the kill
        assert not tail.endswith(b"}\n")
    assert info(app, 1)["status"] == "RUNNING"  # SIGKILL cannot be recorded
    proc2 = run(app, "+mlxp.logger.log_id=1")
    assert proc2.returncode == 0, proc2.stderr
    text = (app / "logs/1/metrics/train.json").read_text()
    parsed = [json.loads(x) for x in text.splitlines()]
    assert parsed[:-1] == lines and parsed[-1] == {"resumed": True}
    assert info(app, 1)["attempt"] == 2 and info(app, 1)["status"] == "COMPLETE"


RESUMABLE = """
try:
    state = ctx.logger.load_checkpoint(log_name='last_ckpt')
except FileNotFoundError:
    state = {'epoch': -1}
for epoch in range(state['epoch'] + 1, ctx.config.num_epoch):
    if os.environ.get('CRASH_AT') == str(epoch):
        raise RuntimeError('crash')
    ctx.logger.log_metrics({'epoch': epoch}, log_name='train')
    ctx.logger.log_checkpoint({'epoch': epoch}, log_name='last_ckpt')
"""


def test_resume_continues_from_checkpoint_and_appends_metrics(app: Path) -> None:
    write_app(app, RESUMABLE)
    first = run(app, "num_epoch=5", env={"CRASH_AT": "3"})
    assert first.returncode != 0 and info(app, 1)["status"] == "FAILED"
    second = run(app, "num_epoch=5", "+mlxp.logger.log_id=1")
    assert second.returncode == 0, second.stderr
    epochs = [json.loads(x)["epoch"] for x in
              (app / "logs/1/metrics/train.json").read_text().splitlines()]
    assert epochs == [0, 1, 2, 3, 4]
    meta = info(app, 1)
    assert meta["status"] == "COMPLETE" and meta["attempt"] == 2 and "error" not in meta
    assert meta["first_start_time"] <= meta["start_time"]
    assert run_dirs(app) == [1]
    # the next new run never reuses an id
    assert run(app).returncode == 0 and run_dirs(app) == [1, 2]


def test_resume_with_a_different_config_is_refused(app: Path) -> None:
    write_app(app, RESUMABLE)
    assert run(app, "num_epoch=2").returncode == 0
    before = (app / "logs/1/metadata/info.yaml").read_text()
    proc = run(app, "num_epoch=3", "+mlxp.logger.log_id=1")
    assert proc.returncode != 0
    assert "cannot resume run 1" in proc.stderr and "num_epoch=2" in proc.stderr
    assert (app / "logs/1/metadata/info.yaml").read_text() == before
    config = yaml.safe_load((app / "logs/1/metadata/config.yaml").read_text())
    assert config["num_epoch"] == 2


def test_pinned_new_id_creates_that_directory(app: Path) -> None:
    write_app(app, "pass")
    assert run(app, "+mlxp.logger.log_id=7").returncode == 0
    assert run_dirs(app) == [7] and info(app, 7)["attempt"] == 1
    assert run(app).returncode == 0
    assert run_dirs(app) == [7, 8]
    assert os.path.exists(app / "logs/.mlxp/last_id")
