"""Runs executed by several processes, and walltime warnings, without a scheduler.

Real processes throughout: torchrun (torch's CPU wheel) starts the ranks, the ranks meet over
torch.distributed's gloo backend with `mlxp.distributed_env()`, and the walltime warning comes
from mlxp's own timer (the path TORQUE/PBS jobs take), with the environment a job script sets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict

import pytest

# torch is a test requirement (scripts/test.sh installs it): missing, these tests fail
import torch  # noqa: F401
import yaml
from conftest import info, run, run_dirs, write_app

from mlxp_core.record import info as run_info
from mlxp_core.run import ranks

TORCHRUN = "torchrun --nproc-per-node {tasks_per_node} --no-python"

# every rank logs and checkpoints; only rank 0's land in the run directory
DDP_APP = """
rank = ctx.info.rank
print('HELLO rank', rank, 'of', ctx.info.world_size, 'nodes', list(ctx.info.nodes), flush=True)
print('ERR rank', rank, file=sys.stderr, flush=True)
env = mlxp.distributed_env()
import torch, torch.distributed as dist
dist.init_process_group('gloo', init_method='env://')
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
dist.destroy_process_group()
for epoch in range(3):
    ctx.logger.log_metrics({'epoch': epoch, 'sum': total.item(), 'rank': rank}, log_name='train')
ctx.logger.log_checkpoint({'rank': rank}, log_name='last_ckpt')
if ctx.config.seed == 13 and rank == 1:
    raise RuntimeError('rank one fails')
"""


def _read(run_dir: Path) -> Dict[str, Any]:
    data = yaml.safe_load((run_dir / "metadata" / "info.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- rank detection (real environment layouts of each launcher) ----------------------------


def test_rank_detection_from_each_launcher() -> None:
    torch_env = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2",
                 "GROUP_RANK": "1", "TORCHELASTIC_RUN_ID": "abc", "SLURM_JOB_ID": "7",
                 "SLURM_STEP_ID": "0", "SLURM_NTASKS": "1"}
    found = ranks.detect(torch_env)  # torchrun inside a SLURM step: torchrun's ranks
    assert (found.rank, found.local_rank, found.world_size, found.num_nodes, found.node_rank,
            found.source) == (3, 1, 4, 2, 1, "torchrun")
    assert found.launch_key == "torchrun-abc-0"
    ompi = ranks.detect({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2",
                         "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
                         "PMIX_NAMESPACE": "prterun-vm-1@1"})
    assert (ompi.rank, ompi.world_size, ompi.source) == (1, 2, "openmpi")
    pmi = ranks.detect({"PMI_RANK": "2", "PMI_SIZE": "3"})
    assert (pmi.rank, pmi.world_size, pmi.source) == (2, 3, "pmi")
    # a SLURM batch script (no step) is one process, whatever the allocation's task count
    batch = ranks.detect({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_PROCID": "0",
                          "SLURM_JOB_NODELIST": "node[1-2]"})
    assert (batch.rank, batch.world_size, batch.source) == (0, 1, None)
    assert ranks.detect({}).as_info()["world_size"] == 1
    with pytest.raises(ranks.RankDetectionError, match="WORLD_SIZE"):
        ranks.detect({"RANK": "0", "LOCAL_RANK": "0"})
    with pytest.raises(ranks.RankDetectionError, match="rank 5 is not within world size 2"):
        ranks.detect({"PMI_RANK": "5", "PMI_SIZE": "2"})


def test_slurm_step_ranks_come_from_submitit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task of `srun` (SLURM_STEP_ID set): submitit's job environment, node list expanded."""
    env = {"SLURM_JOB_ID": "42", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "4",
           "SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1", "SLURM_PROCID": "3",
           "SLURM_LOCALID": "1", "SLURM_JOB_NODELIST": "gpu[07-08]"}
    for key in [k for k in os.environ if k.startswith(("SLURM_", "SUBMITIT_"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    found = ranks.detect()
    assert (found.rank, found.local_rank, found.world_size, found.local_world_size,
            found.num_nodes, found.node_rank, found.source) == (3, 1, 4, 2, 2, 1, "slurm")
    assert found.nodes == ("gpu07", "gpu08")
    assert "SUBMITIT_EXECUTOR" not in os.environ  # set only while submitit looked
    exported = ranks.distributed_env(export=False)
    assert exported["MASTER_ADDR"] == "gpu07" and exported["RANK"] == "3"
    assert exported["WORLD_SIZE"] == "4" and exported["LOCAL_RANK"] == "1"
    assert 20000 <= int(exported["MASTER_PORT"]) <= 60000  # drawn from the job id


def test_combining_rank_endings() -> None:
    err = {"type": "ValueError", "message": "x", "traceback": "tb"}
    ok = {"status": "COMPLETE", "end_time": "2026-01-01T00:00:01"}
    assert run_info.combine_rank_ends(2, "COMPLETE", None, None, {1: ok})[0] == "COMPLETE"
    status, error, _sig, summary = run_info.combine_rank_ends(
        3, "COMPLETE", None, None,
        {1: {"status": "FAILED", "error": err, "end_time": "2026-01-01T00:00:02"},
         2: {"status": "FAILED", "error": {**err, "message": "later"},
             "end_time": "2026-01-01T00:00:09"}})
    assert status == "FAILED" and error["rank"] == 1 and error["message"] == "x"
    assert summary == ["COMPLETE", "FAILED", "FAILED"]
    status, error, _sig, summary = run_info.combine_rank_ends(2, "COMPLETE", None, None, {})
    assert status == "FAILED" and error["type"] == "RankLost" and summary[1] == "NO_END"
    status, _err, sig, _ = run_info.combine_rank_ends(
        2, "COMPLETE", None, None, {1: {"status": "INTERRUPTED", "signal": "SIGTERM"}})
    assert (status, sig) == ("INTERRUPTED", "SIGTERM (rank 1)")  # recorded once


# -- torchrun, for real ---------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_torchrun_in_mlxp_local_one_run_per_point(tmp_path: Path) -> None:
    """`torchrun --nproc-per-node 2` as mlxp_local's task launcher: a gloo all-reduce over the
    exported environment; one run dir per point, rank 0's metrics only, per-rank output;
    a point whose rank 1 raises is FAILED with rank 1's traceback."""
    app = write_app(tmp_path, DDP_APP)
    proc = run(app, "seed=1,13", "hydra/launcher=mlxp_local", "hydra.launcher.tasks_per_node=2",
               f"hydra.launcher.task_launcher='{TORCHRUN}'", timeout=300)
    assert proc.returncode != 0, proc.stdout + proc.stderr  # one point failed
    assert run_dirs(app) == [1, 2], proc.stdout + proc.stderr
    good, bad = app / "logs" / "1", app / "logs" / "2"
    assert "torchrun --nproc-per-node 2 --no-python" in (good / "script.sh").read_text()
    meta = _read(good)
    assert meta["status"] == "COMPLETE", proc.stdout + proc.stderr
    assert meta["world_size"] == 2 and meta["rank"] == 0 and meta["rank_source"] == "torchrun"
    assert meta["ranks"] == ["COMPLETE", "COMPLETE"]
    lines = _lines(good / "metrics" / "train.json")
    assert [line["rank"] for line in lines] == [0, 0, 0]  # rank 0's, once
    assert all(line["sum"] == 3.0 for line in lines)  # 1 + 2: the all-reduce happened
    assert sorted(p.name for p in (good / "metrics").glob("*.json")) == ["train.json"]
    for rank in (0, 1):
        assert f"HELLO rank {rank} of 2" in (good / f"log.rank{rank}.stdout").read_text()
        assert f"ERR rank {rank}" in (good / f"log.rank{rank}.stderr").read_text()
    job_out = (good / "log.stdout").read_text()
    assert "HELLO rank 0 of 2" in job_out and "HELLO rank 1 of 2" not in job_out
    assert not (good / "metadata" / "ranks" / "rank0.yaml").exists()
    meta = _read(bad)
    assert meta["status"] == "FAILED" and meta["ranks"] == ["COMPLETE", "FAILED"]
    assert meta["error"]["rank"] == 1 and meta["error"]["type"] == "RuntimeError"
    assert "rank one fails" in meta["error"]["traceback"]
    assert "raise RuntimeError('rank one fails')" in meta["error"]["traceback"]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_plain_torchrun_ranks_meet_in_one_run_dir(tmp_path: Path) -> None:
    """`torchrun --nproc-per-node 2 main.py` with no mlxp launcher: rank 0 allocates the run,
    rank 1 finds it (record.ranks rendezvous); per-rank metrics and seeds when asked for."""
    app = write_app(tmp_path, DDP_APP, mlxp_yaml="distributed:\n  per_rank_metrics: true\n"
                    "  seed_add_rank: true\n")
    proc = subprocess.run(["torchrun", "--nproc-per-node", "2", "main.py", "seed=5"], cwd=app,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_dirs(app) == [1], proc.stdout + proc.stderr
    run_dir = app / "logs" / "1"
    meta = info(app, 1)
    assert meta["status"] == "COMPLETE" and meta["ranks"] == ["COMPLETE", "COMPLETE"]
    assert [x["rank"] for x in _lines(run_dir / "metrics" / "train.json")] == [0, 0, 0]
    assert [x["rank"] for x in _lines(run_dir / "metrics" / "train.rank1.json")] == [1, 1, 1]
    assert "SEEDED 5" in (run_dir / "log.rank0.stdout").read_text()
    assert "SEEDED 6" in (run_dir / "log.rank1.stdout").read_text()  # seed + rank
    assert not list((app / "logs" / ".mlxp" / "launches").glob("*"))  # rendezvous removed


def test_tasks_per_node_zero_and_too_many_gpus_are_refused(tmp_path: Path) -> None:
    app = write_app(tmp_path, "pass")
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_local", "hydra.launcher.tasks_per_node=0")
    assert proc.returncode != 0
    assert "resource 'tasks_per_node': expected a positive integer, got 0" in proc.stderr
    proc = run(app, "seed=1,2", "hydra/launcher=mlxp_local", "hydra.launcher.tasks_per_node=2",
               "hydra.launcher.gpus_per_task=1", env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode != 0
    assert ("hydra.launcher.gpus_per_task: 1 per task x 2 tasks per node = 2 GPUs on one node, "
            "but this machine has 0") in proc.stderr, proc.stderr
    if shutil.which("mpirun") is None:  # the default local task launcher, not installed
        proc = run(app, "seed=1,2", "hydra/launcher=mlxp_local",
                   "hydra.launcher.tasks_per_node=2")
        assert proc.returncode != 0
        assert "hydra.launcher.task_launcher: 'mpirun' is not on PATH" in proc.stderr
    assert run_dirs(app) == []  # refused before any directory exists


# -- walltime warnings: mlxp's own timer (TORQUE/PBS's path), for real ----------------------

HOOK_APP = """
mode = os.environ['HOOK_MODE']
def checkpoint():
    if mode == 'raise':
        raise OSError('disk gone')
    if mode == 'slow':
        time.sleep(60)
    ctx.logger.log_checkpoint({'epoch': 1}, 'last_ckpt')
ctx.on_checkpoint(checkpoint)
print('STARTED', flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("mode", ["save", "raise", "slow"])
def test_walltime_warning_calls_the_hook_and_ends_interrupted(tmp_path: Path, mode: str) -> None:
    """The job script's environment (walltime 4 s, warning 2 s before): the hook runs; a hook
    that raises, or outlives the warning time, is recorded and the run still ends INTERRUPTED."""
    app = write_app(tmp_path, HOOK_APP)
    env = {"MLXP_WALLTIME_S": "4", "MLXP_SIGNAL_BEFORE_S": "2", "MLXP_MAX_REQUEUES": "1",
           "HOOK_MODE": mode}
    proc = run(app, "seed=1", env=env, timeout=60)
    assert proc.returncode == 128 + 14, proc.stdout + proc.stderr  # SIGALRM, not requeued
    meta = info(app, 1)
    assert meta["status"] == "INTERRUPTED" and meta["signal"] == "SIGALRM", meta
    got = meta["interruption"]
    assert got["reason"] == "timeout" and got["requeued"] is False
    assert got["requeue"] == "not requeued: not a scheduler job"
    assert meta["duration_s"] < 12, meta  # the slow hook is abandoned within the budget
    ckpt = app / "logs" / "1" / "artifacts" / "pickle" / "last_ckpt.pkl"
    if mode == "save":
        assert got["checkpoint"] == "saved" and ckpt.is_file()
    elif mode == "raise":
        assert got["checkpoint"] == "failed" and not ckpt.exists()
        assert got["checkpoint_error"]["type"] == "OSError"
        assert "disk gone" in got["checkpoint_error"]["traceback"]
    else:
        assert got["checkpoint"] == "timed out" and not ckpt.exists()
        assert got["checkpoint_error"]["type"] == "CheckpointTimeout"
        assert 1.5 <= got["checkpoint_s"] < 5, got  # 2 s x 0.8 budget


def test_on_checkpoint_refuses_a_non_function(tmp_path: Path) -> None:
    app = write_app(tmp_path, "ctx.on_checkpoint('save')")
    proc = run(app, "seed=1")
    assert proc.returncode != 0
    assert "on_checkpoint expects a function taking no argument" in info(app, 1)["error"][
        "message"]


def test_rank_files_of_an_earlier_attempt_do_not_count(tmp_path: Path) -> None:
    from mlxp_core.record import ranks as rank_files

    (tmp_path / "metadata").mkdir()
    rank_files.write_rank_end(tmp_path, 1, {"attempt": 1, "status": "FAILED"})
    assert rank_files.read_rank_ends(tmp_path, 2, attempt=2) == {}
    assert rank_files.read_rank_ends(tmp_path, 2, attempt=1)[1]["status"] == "FAILED"
