"""Multi-process jobs and walltime warnings on the REAL SLURM of this machine (single node,
2 CPUs): `srun` tasks of one run, torch.distributed (gloo) over `mlxp.distributed_env()`,
`--signal=B:USR1@N` -> checkpoint -> `scontrol requeue` -> resume.

Skipped when SLURM is down, failing instead under MLXP_REQUIRE_SCHEDULERS=1. Jobs are followed
with SLURM's own commands. Slurm holds a requeued job about 2 minutes before it may start
again (its requeue delay): the tests release it at once with `scontrol update StartTime=now`,
as an administrator would, once the killed attempt is gone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

# torch is a test requirement (scripts/test.sh installs it): missing, these tests fail
import torch  # noqa: F401
from conftest import write_app
from realsched import schedulers
from realsched.apps import (
    CHECKPOINT_ON_WARNING_APP,
    clean_env,
    describe,
    info,
    run_dir_paths,
    run_mlxpsub,
    wait_ended,
    wait_for_text,
    write_batch_script,
)
from realsched.schedulers import require, wait_done

pytestmark = pytest.mark.scheduler("slurm")

ROOT_PYTHON_DIR = str(Path(sys.executable).parent)
TIMEOUT_S = 180.0

DDP_APP = """
rank = ctx.info.rank
print('HELLO rank', rank, 'of', ctx.info.world_size, flush=True)
mlxp.distributed_env()
import torch, torch.distributed as dist
dist.init_process_group('gloo', init_method='env://')
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
dist.destroy_process_group()
for epoch in range(3):
    ctx.logger.log_metrics({'epoch': epoch, 'sum': total.item(), 'rank': rank}, log_name='train')
if ctx.config.seed == 13 and rank == 1:
    raise RuntimeError('rank one fails')
"""

# attempt 1 runs until the warning; a resumed attempt does 3 more epochs and completes


@pytest.fixture
def app(tmp_path: Path) -> Path:
    require("slurm")
    return tmp_path / "project"


def _python(app: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", *args], cwd=app, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)


def _lines(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _check_two_ranks(run_dir: Path) -> Dict[str, Any]:
    meta = wait_ended(run_dir, timeout=30)
    assert meta["world_size"] == 2 and meta["rank_source"] == "slurm", describe(run_dir)
    for rank in (0, 1):
        out = (run_dir / f"log.rank{rank}.stdout").read_text()
        assert f"HELLO rank {rank} of 2" in out, describe(run_dir)
    assert "HELLO rank 1" not in (run_dir / "log.stdout").read_text()
    lines = _lines(run_dir / "metrics" / "train.json")
    assert [x["rank"] for x in lines] == [0, 0, 0] and all(x["sum"] == 3.0 for x in lines)
    return meta


def test_two_tasks_through_the_slurm_launcher(app: Path) -> None:
    """`hydra.launcher.tasks_per_node=2`: the script starts `srun python ...`; each point is one
    run of two ranks; rank 1 raising makes its run FAILED with rank 1's traceback."""
    write_app(app, DDP_APP)
    proc = _python(app, "seed=1,13", "hydra/launcher=mlxp_slurm",
                   "hydra.launcher.tasks_per_node=2", "hydra.launcher.time=00:03:00",
                   "hydra.launcher.wait=true", "hydra.launcher.poll_interval=1")
    run_dirs = run_dir_paths(app)
    assert len(run_dirs) == 2, proc.stdout + proc.stderr
    wait_done("slurm", [str(info(d)["submit"]["job_id"]) for d in run_dirs], timeout=TIMEOUT_S)
    good, bad = run_dirs
    script = (good / "script.sh").read_text()
    assert "#SBATCH --ntasks-per-node=2\n" in script and "\nsrun " in script, script
    meta = _check_two_ranks(good)
    assert meta["status"] == "COMPLETE" and meta["ranks"] == ["COMPLETE", "COMPLETE"]
    meta = _check_two_ranks(bad)
    assert meta["status"] == "FAILED" and meta["ranks"] == ["COMPLETE", "FAILED"]
    assert meta["error"]["rank"] == 1 and "rank one fails" in meta["error"]["traceback"]
    assert "rank 1: RuntimeError: rank one fails" in proc.stderr  # the head's wait result


def test_mlxpsub_keeps_the_users_srun(app: Path) -> None:
    """`#SBATCH --ntasks=2` + `srun python main.py`: one run directory, rank 0's metrics."""
    write_app(app, DDP_APP)
    write_batch_script(app, "slurm", ROOT_PYTHON_DIR, ["srun python main.py seed=1"],
                       directives=["#SBATCH --ntasks=2"])
    proc = run_mlxpsub(app)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = run_dir_paths(app)
    job_id = str(info(run_dir)["submit"]["job_id"])
    assert wait_done("slurm", [job_id], timeout=TIMEOUT_S)[job_id] == ("COMPLETED", "0:0")
    meta = _check_two_ranks(run_dir)
    assert meta["status"] == "COMPLETE" and meta["scheduler"]["job_id"] == job_id


def _release(job_id: str, run_dir: Path) -> None:
    """Start a requeued job now instead of after Slurm's requeue delay (once it is PENDING)."""
    deadline = time.monotonic() + 60
    while "JobState=PENDING" not in schedulers.command(["scontrol", "show", "job",
                                                        job_id]).stdout:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} not pending again{describe(run_dir)}")
        time.sleep(0.5)
    time.sleep(2)  # slurmd refuses a start while the killed attempt is still being cleaned up
    while time.monotonic() < deadline:
        schedulers.command(["scontrol", "update", f"JobId={job_id}", "StartTime=now"])
        if info(run_dir).get("attempt", 1) >= 2:
            return
        time.sleep(1)


def _wait_status(run_dir: Path, status: str, timeout: float = TIMEOUT_S) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while info(run_dir).get("status") != status:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{run_dir} never {status}{describe(run_dir)}")
        time.sleep(0.3)
    return info(run_dir)


def _check_resumed(run_dir: Path, job_id: str, reason: str) -> Dict[str, Any]:
    assert wait_done("slurm", [job_id], timeout=TIMEOUT_S)[job_id] == ("COMPLETED", "0:0")
    meta = wait_ended(run_dir, timeout=30)
    assert meta["status"] == "COMPLETE" and meta["attempt"] == 2, describe(run_dir)
    (first,) = meta["attempts"]
    assert first["status"] == "INTERRUPTED" and first["interruption"]["reason"] == reason
    assert first["job_id"] == job_id and meta["first_start_time"] == first["start_time"]
    epochs = [x["epoch"] for x in _lines(run_dir / "metrics" / "train.json")]
    assert epochs == list(range(len(epochs))), epochs  # resumed right after the checkpoint
    out = (run_dir / "log.stdout").read_text()
    assert f"RESUMED FROM {epochs[-4]}" in out, describe(run_dir)
    return meta


def test_walltime_warning_checkpoints_requeues_and_resumes(app: Path) -> None:
    """mlxpsub, `--time=00:01:00` and `#MLXP signal_before_walltime_s=30`: SLURM's USR1 ->
    checkpoint hook -> INTERRUPTED (timeout) -> `scontrol requeue` -> attempt 2 resumes from
    the checkpoint in the same run directory and completes."""
    write_app(app, CHECKPOINT_ON_WARNING_APP)
    write_batch_script(app, "slurm", ROOT_PYTHON_DIR, ["python main.py seed=1"],
                       directives=["#SBATCH --time=00:01:00",
                                   "#MLXP signal_before_walltime_s=30"])
    proc = run_mlxpsub(app)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = run_dir_paths(app)
    job_id = str(info(run_dir)["submit"]["job_id"])
    assert "#SBATCH --signal=B:USR1@30\n" in (run_dir / "script.sh").read_text()
    first = _wait_status(run_dir, "INTERRUPTED", timeout=120)
    assert first["signal"] == "SIGUSR1" and first["attempt"] == 1, first
    got = first["interruption"]
    assert got["reason"] == "timeout" and got["checkpoint"] == "saved", got
    assert got["requeued"] is True and got["requeue"] == f"scontrol requeue {job_id}"
    assert first["requeues"] == {"timeout": 1}
    _release(job_id, run_dir)
    meta = _check_resumed(run_dir, job_id, "timeout")
    assert meta["requeues"] == {"timeout": 1}


def test_preemption_is_requeued_and_not_counted(app: Path) -> None:
    """The warning long before the walltime (as `PreemptParameters=send_user_signal` sends it)
    is a preemption: requeued even with max_requeues=0, counted apart."""
    write_app(app, CHECKPOINT_ON_WARNING_APP)
    proc = _python(app, "-m", "seed=1", "hydra/launcher=mlxp_slurm",
                   "hydra.launcher.time=00:20:00", "hydra.launcher.signal_before_walltime_s=30",
                   "hydra.launcher.max_requeues=0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = run_dir_paths(app)
    job_id = str(info(run_dir)["submit"]["job_id"])
    wait_for_text(run_dir / "log.stdout", "TASK-STARTED 1", timeout=TIMEOUT_S)
    time.sleep(1.5)
    sent = schedulers.command(["scancel", "--batch", "--signal=USR1", job_id])
    assert sent.returncode == 0, sent
    first = _wait_status(run_dir, "INTERRUPTED", timeout=60)
    got = first["interruption"]
    assert got["reason"] == "preemption" and got["requeued"] is True, got
    assert first["requeues"] == {"preemption": 1}
    _release(job_id, run_dir)
    meta = _check_resumed(run_dir, job_id, "preemption")
    assert "timeout" not in meta["requeues"]


def test_more_gpus_than_the_node_has(app: Path) -> None:
    write_app(app, "pass")
    proc = _python(app, "-m", "seed=1", "hydra/launcher=mlxp_slurm",
                   "hydra.launcher.tasks_per_node=2", "hydra.launcher.gpus_per_task=1")
    assert proc.returncode != 0
    assert ("hydra.launcher.gpus_per_task: 1 per task x 2 tasks per node = 2 GPUs on one node, "
            "but the largest node of the cluster has 0") in proc.stderr, proc.stderr
    assert run_dir_paths(app) == []
