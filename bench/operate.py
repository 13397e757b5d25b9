"""Benchmark: operating a sweep after submitting it (`mlxp status`, `mlxp rerun`, big arrays).

Three measures, each next to a floor (the work no tool can skip), with the fake scheduler
commands of the tests (``tests/fakes/bin``; Python programs, so every scheduler call costs a
Python start-up, for ours and for the floor alike):

* ``status``: ``mlxp status <logs> --json`` over 10,000 runs of which 2,000 are queued (one
  array the fake ``squeue`` lists), with the Reader's index cache warm (a first call, not
  timed, builds it). Floor: a Python process that loads the index cache file
  (``json.load``) and makes the one ``squeue`` call. Target < 1 s.
* ``rerun``: ``mlxp rerun --failed <sweep>`` of 1,000 FAILED runs (as the launcher records
  them: ``script.sh``, ``submit.launcher``) as ONE array; the runs are reset to FAILED
  before each round (not timed). Floor: the one ``sbatch`` of an array script of 1,000
  tasks, written beforehand. Target < 3 s.
* ``array``: submitting a 5,000-point sweep as an array
  (``python main.py seed='range(0,5000)' hydra/launcher=mlxp_slurm hydra.launcher.array=true``)
  to the fake ``sbatch`` with SLURM's default MaxArraySize (1001): 5 chunks. Floor: a Python
  script that makes the 5,000 run directories with a script each, writes 5 array scripts and
  calls ``sbatch`` 5 times. Target < 8 s.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import List

from bench.harness import (
    FAKES_BIN,
    FLOOR,
    OURS,
    BenchError,
    BenchResult,
    Check,
    Contender,
    Row,
    Sample,
    Setup,
    base_env,
    interleave,
    ratio,
    run_process,
)

NAME = "operate"
TARGETS = {"status": 1.0, "rerun": 3.0, "array": 8.0}
SWEEP = "20261207-100000-beef"
LAUNCHER = {"directives": ["--time=00:10:00"], "resources": {}, "workdir": "",
            "array_parallelism": None}

FLOOR_STATUS = """\
import json, subprocess, sys, time
t0 = time.perf_counter()
with open(sys.argv[1]) as f:
    index = json.load(f)
out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T|%r|%N|%M"],
                     capture_output=True, text=True, check=True)
print("BENCH " + json.dumps({"lines": len(out.stdout.splitlines())}))
"""

FLOOR_ARRAY = """\
import os, subprocess, sys
root, count, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(root, exist_ok=True)
dirs = []
for i in range(1, count + 1):
    d = os.path.join(root, str(i))
    os.makedirs(os.path.join(d, "metadata"))
    with open(os.path.join(d, "script.sh"), "w") as f:
        f.write("#!/bin/bash\\ncd /tmp\\npython main.py seed=%d hydra.mode=RUN\\n" % i)
    with open(os.path.join(d, "metadata", "info.yaml"), "w") as f:
        f.write("status: SUBMITTED\\nlog_id: %d\\n" % i)
    dirs.append(d)
for k in range(0, count, chunk):
    part = dirs[k:k + chunk]
    path = os.path.join(root, "array-%d.sh" % k)
    with open(path, "w") as f:
        f.write("#!/bin/bash\\n#SBATCH --array=0-%d\\nruns=(%s)\\n" % (len(part) - 1,
                " ".join(part)))
        f.write('exec bash "${runs[$SLURM_ARRAY_TASK_ID]}/script.sh"\\n')
    subprocess.run(["sbatch", path], check=True, capture_output=True)
"""

MAIN = """\
import mlxp

@mlxp.launch(config_path='./configs')
def main(ctx):
    pass

if __name__ == '__main__':
    main()
"""


def _info(log_id: int, run_dir: Path, status: str, job: str, task: int, workdir: Path) -> str:
    """info.yaml as the launcher writes it (`record.info.submission_record` + the job's end)."""
    launcher = {**LAUNCHER, "workdir": str(workdir)}
    return (f"status: {status}\nlog_id: {log_id}\nlog_dir: {run_dir}\noverrides:\n"
            f"- seed={log_id}\nsubmit:\n  scheduler: slurm\n  job_id: '{job}'\n"
            f"  submit_time: '2026-01-07T10:00:00+00:00'\n  script: {run_dir}/script.sh\n"
            f"  array_task_index: {task}\n  launcher: {json.dumps(launcher)}\n"
            f"sweep: {{id: {SWEEP}, command: mlxpsub job.sh}}\n"
            f"start_time: '2026-01-07T10:00:01+00:00'\n"
            + ("end_time: '2026-01-07T10:01:00+00:00'\naccounting: {state: COMPLETED}\n"
               if status != "SUBMITTED" else ""))


def make_runs(parent: Path, total: int, live: int, status: str = "COMPLETE") -> None:
    """`total` run directories; the last `live` queued as one array (job 5000)."""
    parent.mkdir(parents=True)
    for log_id in range(1, total + 1):
        run_dir = parent / str(log_id)
        (run_dir / "metadata").mkdir(parents=True)
        queued = log_id > total - live
        job, task = ("5000", log_id - (total - live) - 1) if queued else ("4000", log_id - 1)
        (run_dir / "metadata" / "info.yaml").write_text(
            _info(log_id, run_dir, "SUBMITTED" if queued else status, job, task, parent.parent))
        (run_dir / "script.sh").write_text(f"#!/bin/bash\ncd {parent.parent}\ntrue\n")


def queue_array(fake_dir: Path, live: int) -> None:
    """The fake scheduler's record of a pending array of `live` tasks (job 5000)."""
    keys = [f"5000_{k}" for k in range(live)]
    jobs = fake_dir / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    (jobs / f"{keys[0]}.json").write_text(json.dumps({
        "key": keys[0], "submit_id": "5000", "scheduler": "slurm", "state": "PENDING",
        "env": {}, "aliases": [keys[0]], "pid": None, "pgid": None, "exit_code": None,
        "signal": None, "submit_time": time.time(), "start_time": None, "end_time": None,
        "norun_array_keys": keys}))


def _rows(res: BenchResult, what: str, cont: List[Contender], samples: dict) -> None:
    for c in cont:
        items = samples[c.key]
        res.rows.append(Row(c.label, c.role, f"wall, {what}", "s", [s.wall_s for s in items],
                            [s.rss_kb for s in items], ratio_group=what))


def _check(res: BenchResult, what: str, ours: str, floor: str, text: str) -> None:
    ours_row, floor_row = res.row(ours), res.row(floor)
    value = ours_row.stats.median if ours_row is not None and ours_row.values else None
    res.checks.append(Check(text, value, TARGETS[what], unit="s"))
    rel = ratio(ours_row, floor_row)
    if rel is not None:
        res.notes.append(f"{what}: ours/floor (wall) = {rel:.2f}")


def run(setup: Setup) -> BenchResult:
    q = setup.quick
    total, live, reruns, points = (200, 40, 20, 50) if q else (10_000, 2_000, 1_000, 5_000)
    chunk = 20 if q else 1001
    res = BenchResult(NAME, f"status over {total} runs, rerun of {reruns}, {points}-point array")
    python = sys.executable
    mlxp = [python, "-m", "mlxp_core.cli.main"]
    started = time.perf_counter()
    root = setup.scratch / "operate"

    # -- status ------------------------------------------------------------------------------
    fake = root / "fake-status"
    env = {**base_env([str(FAKES_BIN)]), "FAKE_SCHED_DIR": str(fake)}
    logs = root / "status" / "logs"
    make_runs(logs, total, live)
    queue_array(fake, live)
    first = run_process([*mlxp, "status", str(logs), "--json"], root, env)  # builds the index
    if f'"live": {live}' not in first.stdout:
        raise BenchError(f"status: unexpected output {first.stdout[-500:]}")
    floor_script = root / "floor_status.py"
    floor_script.write_text(FLOOR_STATUS)
    index = logs / ".mlxp" / "reader_index.json"

    def status(_round: int) -> Sample:
        sample = run_process([*mlxp, "status", str(logs), "--json"], root, env)
        if f'"live": {live}' not in sample.stdout:
            raise BenchError(f"status: unexpected output {sample.stdout[-500:]}")
        return sample

    def status_floor(_round: int) -> Sample:
        return run_process([python, str(floor_script), str(index)], root, env)

    cont = [Contender("status", f"ours: mlxp status ({total} runs)", OURS, status),
            Contender("status_floor", "floor: load index + 1 squeue", FLOOR, status_floor)]
    samples = interleave(cont, setup.repeats, setup.warmup)
    _rows(res, "status", cont, samples)
    _check(res, "status", cont[0].label, cont[1].label,
           f"mlxp status over {total} runs, {live} queued (warm index)")

    # -- rerun -------------------------------------------------------------------------------
    fake = root / "fake-rerun"
    env = {**base_env([str(FAKES_BIN)]), "FAKE_SCHED_DIR": str(fake), "FAKE_SCHED_NORUN": "1",
           "FAKE_SCHED_ACCOUNTING": "0"}
    logs = root / "rerun" / "logs"
    make_runs(logs, reruns, 0, status="FAILED")
    originals = {d: (d / "metadata" / "info.yaml").read_text() for d in logs.iterdir()
                 if d.name.isdigit()}
    floor_array = root / "floor_rerun.sh"
    runs_text = " ".join(str(d) for d in originals)
    floor_array.write_text(f"#!/bin/bash\n#SBATCH --array=0-{reruns - 1}\nruns=({runs_text})\n")

    def reset() -> None:
        # info.yaml rewritten in place; the runs' `.info.lock` files are kept, as they are in
        # real run directories after their first submission (deleting and recreating 1,000
        # inodes per sample made ext4's inode allocator, not mlxp, the measure: see `array`)
        for run_dir, text in originals.items():
            (run_dir / "metadata" / "info.yaml").write_text(text)
        shutil.rmtree(logs / ".arrays", ignore_errors=True)
        shutil.rmtree(fake, ignore_errors=True)

    def rerun(_round: int) -> Sample:
        reset()
        sample = run_process([*mlxp, "rerun", "--failed", str(logs), SWEEP], root, env)
        if f"resubmitted {reruns} runs (failed) as 1 array job(s)" not in sample.stdout:
            raise BenchError(f"rerun: unexpected output {sample.stdout[-800:]}")
        return sample

    def rerun_floor(_round: int) -> Sample:
        shutil.rmtree(fake, ignore_errors=True)
        return run_process(["sbatch", str(floor_array)], root, env)

    cont = [Contender("rerun", f"ours: mlxp rerun --failed ({reruns})", OURS, rerun),
            Contender("rerun_floor", "floor: 1 sbatch of the array", FLOOR, rerun_floor)]
    samples = interleave(cont, setup.repeats, setup.warmup)
    _rows(res, "rerun", cont, samples)
    _check(res, "rerun", cont[0].label, cont[1].label,
           f"mlxp rerun --failed of {reruns} runs as one array (fake sbatch)")

    # -- a big array -------------------------------------------------------------------------
    app = root / "app"
    (app / "configs").mkdir(parents=True)
    (app / "configs" / "config.yaml").write_text("seed: 0\n")
    (app / "main.py").write_text(MAIN)
    floor_script = root / "floor_array.py"
    floor_script.write_text(FLOOR_ARRAY)
    env = {**base_env([str(FAKES_BIN)]), "FAKE_SCHED_NORUN": "1",
           "FAKE_SCHED_MAX_ARRAY_SIZE": str(chunk)}

    # Each sample writes into a directory of its own and nothing is deleted until the end:
    # ext4 skips inodes freed in the last seconds when it allocates new ones, and after an
    # `rm -rf` of 25,000 inodes that scan made the same submission take 5 to 15 s of kernel
    # time (perf: recently_deleted), whoever ran next.
    def array(k: int) -> Sample:
        sample = run_process([python, "main.py", f"seed=range(0,{points})",
                              "hydra/launcher=mlxp_slurm", "hydra.launcher.array=true",
                              f"+mlxp.logger.parent_log_dir=logs-round{k + 1}"],
                             app, {**env, "FAKE_SCHED_DIR": str(root / f"fake-array-{k}")})
        if f"{points} of {points} jobs submitted" not in sample.stdout:
            raise BenchError(f"array: unexpected output {sample.stdout[-800:]}")
        return sample

    def array_floor(k: int) -> Sample:
        target = root / f"floor-array-{k}"  # one per sample, never deleted meanwhile (above)
        return run_process([python, str(floor_script), str(target), str(points), str(chunk)],
                           root, {**env, "FAKE_SCHED_DIR": str(root / f"fake-floor-{k}")})

    cont: List[Contender] = [
        Contender("array", f"ours: {points}-point array (launcher)", OURS, array),
        Contender("array_floor", "floor: dirs + scripts + sbatch x chunks", FLOOR,
                  array_floor)]
    samples = interleave(cont, setup.repeats, setup.warmup)
    _rows(res, "array", cont, samples)
    _check(res, "array", cont[0].label, cont[1].label,
           f"{points}-point array submission, {-(-points // chunk)} chunks (fake sbatch)")
    res.seconds = time.perf_counter() - started
    res.notes.append("fake scheduler commands are Python programs: ~50 ms per call in both "
                     "columns")
    return res

