"""Benchmark 4: submitting a sweep with ``mlxpsub`` to a fake, instant ``sbatch``.

The batch script (``#SBATCH`` directives, ``python main.py x='range(0,N)'``) is submitted with:

* ours, one submission per job (``mlxpsub script.sh``);
* ours with a job array (the same line + ``hydra.launcher.array=true``): probed first with a
  2-point sweep; while the launcher does not accept the field the row reads "n/a";
* MLXP 1.0.5's ``mlxpsub`` on a smaller sweep (it runs ~0.1 s per job), reported per job and
  scaled to N, labelled as such;
* the floor: a bash loop that creates N directories, writes N small job scripts and calls the
  fake ``sbatch`` N times.

The fake is the one of the scheduler tests (``tests/fakes/bin/sbatch``) with
``FAKE_SCHED_NORUN=1`` (print the job id, run nothing) and ``FAKE_SCHED_DIR`` in the sample's
directory. Each sample checks that N jobs reached the fake. The fake is a Python program, so
every ``sbatch`` call costs a Python start-up; it runs under the contender's own venv
interpreter (``python3`` on ``PATH``), the same for every contender.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bench import apps
from bench.harness import (
    FAKES_BIN,
    FLOOR,
    OURS,
    PEER,
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

NAME = "submit"
TARGET_VS_FLOOR = 2.0
TARGET_ARRAY_S = 2.0
ARRAY_OVERRIDE = " hydra.launcher.array=true"
ARRAY_ROUNDS = 7  # samples of the array row (the other rows: --submit-repeats)
WARMUP_JOBS = 5


def _env(bin_dir: Path, where: Path) -> Dict[str, str]:
    env = base_env([str(FAKES_BIN), str(bin_dir)])
    env["FAKE_SCHED_NORUN"] = "1"
    env["FAKE_SCHED_DIR"] = str(where / "fakesched")
    return env


def _submitted(where: Path) -> int:
    """Jobs (or array tasks) the fake scheduler recorded (a not-run array: one record)."""
    count = 0
    for path in (where / "fakesched" / "jobs").glob("*.json"):
        keys = json.loads(path.read_text()).get("norun_array_keys")
        count += len(keys) if keys else 1
    return count


def _check(where: Path, n: int, sample: Sample, runs: bool) -> None:
    got = _submitted(where)
    dirs = len(list((where / "logs").glob("*/script.sh"))) if runs else n
    if got != n or dirs != n:
        raise BenchError(f"{where}: expected {n} submitted jobs and run dirs, the fake has "
                         f"{got}, {dirs} run dirs have a script.sh\n{sample.stdout[-3000:]}")


def _fake_array_submit(bin_dir: Path, where: Path) -> float:
    """Wall time of the fake `sbatch` alone on the array script just submitted.

    The fake is a Python program (a Python start-up, and the per-task environments it
    prepares); a real `sbatch --array` is one request to slurmctld. Reported so the array row
    can be read without the fake's own cost.
    """
    (script,) = (where / "logs" / ".arrays").glob("*.sh")
    again = where / "fake-again"
    again.mkdir()
    return run_process(["sbatch", str(script)], where, _env(bin_dir, again)).wall_s


def _mlxpsub(bin_dir: Path, python: Path) -> List[str]:
    script = bin_dir / "mlxpsub"
    return [str(script)] if script.exists() else [str(python), "-m", "mlxp_core.cli.mlxpsub"]


def mlxpsub_contender(setup: Setup, key: str, label: str, role: str, python: Path,
                      jobs: int, extra: str = "", repeats: Optional[int] = None) -> Contender:
    bin_dir = python.parent
    argv = _mlxpsub(bin_dir, python)

    def run(round_: int) -> Sample:
        n = WARMUP_JOBS if round_ < 0 else jobs
        where = apps.write_app(apps.new_dir(setup.scratch, key), apps.MLXP_NOOP,
                               script=apps.SUBMIT_SCRIPT.format(n=n, extra=extra))
        sample = run_process([*argv, "script.sh"], where, _env(bin_dir, where))
        _check(where, n, sample, runs=not extra)  # an array's run dirs are its launcher's
        sample.values["jobs"] = n
        if extra:
            sample.values["fake_submit_s"] = _fake_array_submit(bin_dir, where)
        return sample

    return Contender(key, label, role, run, repeats)


def floor_contender(setup: Setup, jobs: int) -> Contender:
    script = setup.scratch / "floor_submit.sh"
    script.write_text(apps.FLOOR_SUBMIT)

    def run(round_: int) -> Sample:
        n = WARMUP_JOBS if round_ < 0 else jobs
        where = apps.new_dir(setup.scratch, "floor-submit")
        sample = run_process(["bash", str(script), str(where), str(n)], where,
                             _env(setup.ours_bin, where))
        _check(where, n, sample, runs=True)
        sample.values["jobs"] = n
        return sample

    return Contender("floor", "floor: bash loop, mkdir+script+sbatch", FLOOR, run)


def probe_array(setup: Setup) -> Tuple[Optional[str], Optional[Sample]]:
    """``(None, sample)`` when ``hydra.launcher.array=true`` submits a 2-point sweep,
    else ``(why not, None)``."""
    where = apps.write_app(apps.new_dir(setup.scratch, "array-probe"), apps.MLXP_NOOP,
                           script=apps.SUBMIT_SCRIPT.format(n=2, extra=ARRAY_OVERRIDE))
    try:
        sample = run_process([*_mlxpsub(setup.ours_bin, setup.ours_python), "script.sh"], where,
                             _env(setup.ours_bin, where))
    except BenchError as exc:
        text = str(exc)
        if "array" in text:
            return "n/a (array not implemented yet)", None
        return f"n/a (array probe failed: {text.splitlines()[0][:160]})", None
    if _submitted(where) != 2:
        return f"n/a (array probe: {_submitted(where)} jobs reached the fake, expected 2)", None
    sample.values["jobs"] = 2
    return None, sample


def run(setup: Setup, jobs: int, mlxp_jobs: int, repeats: int) -> BenchResult:
    res = BenchResult(NAME, f"mlxpsub of a {jobs}-job sweep, fake instant sbatch")
    cont: List[Contender] = [
        mlxpsub_contender(setup, "ours", "ours (mlxpsub, 1 sbatch/job)", OURS,
                          setup.ours_python, jobs),
        floor_contender(setup, jobs),
    ]
    array_missing, probe = probe_array(setup)
    # quick mode: the 2-point probe is the array sample (the smoke test must stay short)
    if array_missing is None and not (setup.quick and jobs <= 2):
        cont.insert(1, mlxpsub_contender(setup, "ours-array", "ours (mlxpsub, array)", OURS,
                                         setup.ours_python, jobs, extra=ARRAY_OVERRIDE))
    if setup.mlxp_python is not None:
        cont.insert(-1, mlxpsub_contender(setup, "mlxp", f"MLXP 1.0.5 (mlxpsub, {mlxp_jobs} jobs)",
                                          PEER, setup.mlxp_python, mlxp_jobs))
    t0 = time.perf_counter()
    samples = interleave(cont, repeats, setup.warmup)
    array = next((c for c in cont if c.key == "ours-array"), None)
    if array is not None and repeats < ARRAY_ROUNDS:
        # an absolute target, and 2 s a sample: more rounds than the slow rows get
        more = interleave([array], ARRAY_ROUNDS - repeats, 0)
        samples["ours-array"] = [*samples["ours-array"], *more["ours-array"]]
    res.seconds = time.perf_counter() - t0
    if probe is not None and "ours-array" not in samples:
        cont.insert(1, Contender("ours-array", "ours (mlxpsub, array)", OURS, lambda _r: probe))
        samples["ours-array"] = [probe]
    res.keep_samples(samples)
    per_job: Dict[str, Row] = {}
    for c in cont:
        items = samples[c.key]
        n = int(items[0].values["jobs"])
        res.rows.append(Row(c.label, c.role, f"wall, {n} jobs", "s",
                            [s.wall_s for s in items], [s.rss_kb for s in items],
                            ratio_group=f"wall{n}" if c.key != "ours-array" else ""))
        per_job[c.key] = Row(c.label, c.role, "per job", "ms", [s.wall_s / n for s in items],
                             ratio_group="per-job" if c.key != "ours-array" else "")
    if array_missing is not None:
        res.rows.insert(1, Row("ours (mlxpsub, array)", OURS, f"wall, {jobs} jobs", "s", [],
                               note=array_missing))
    res.rows += per_job.values()
    fake = [s.values["fake_submit_s"] for s in samples.get("ours-array", [])
            if "fake_submit_s" in s.values]
    if fake:
        res.rows.append(Row("of which: the fake sbatch of the array script", FLOOR,
                            f"wall, {jobs} tasks", "s", fake,
                            note="the fake alone, re-run on the same array script; a real "
                                 "sbatch --array is one request"))
    if "mlxp" in per_job:
        scaled = per_job["mlxp"]
        res.rows.append(Row(f"MLXP 1.0.5 scaled x{jobs // mlxp_jobs}", PEER,
                            f"wall, {jobs} jobs (scaled)", "s",
                            [v * jobs for v in scaled.values], ratio_group=f"wall{jobs}",
                            note=f"= per job measured on {mlxp_jobs} jobs x {jobs}"))
    res.checks.append(Check(f"{jobs} jobs without array, ours/floor",
                            ratio(res.row("ours (mlxpsub, 1 sbatch/job)", f"wall, {jobs} jobs"),
                                  res.row("floor: bash loop, mkdir+script+sbatch",
                                          f"wall, {jobs} jobs")), TARGET_VS_FLOOR))
    array_row = res.row("ours (mlxpsub, array)")
    res.checks.append(Check(
        f"{jobs} jobs with array, absolute wall" + (f": {array_missing}" if array_missing else ""),
        array_row.stats.median if array_row is not None and array_row.values else None,
        TARGET_ARRAY_S, unit="s"))
    res.notes.append("the fake sbatch is a Python program: each call costs a Python start-up "
                     "(see the floor row); MLXP is measured on a smaller sweep and scaled")
    res.notes.append("submitted jobs are counted in the fake's records after every sample")
    return res
