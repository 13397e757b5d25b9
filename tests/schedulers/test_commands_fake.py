"""Render -> submit -> run through the fake scheduler commands in tests/fakes/bin, for real
(subprocesses, files, signals; nothing mocked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
from fakes.helpers import fake_env, records, wait_for_jobs, wait_for_text

from mlxp_core.schedulers import Scheduler, get_scheduler
from mlxp_core.schedulers.commands import (
    SubmitCommandNotFound,
    SubmitError,
    cancel,
    check_submit_command,
    submit,
)
from mlxp_core.schedulers.render import JobSpec, render_script

REPO = Path(__file__).resolve().parents[2]
NAMES = ["slurm", "oar", "sge", "torque", "mwm", "lsf"]
NASTY = ["msg='a b $HOME `x` ; *'", "text=line1\nline2", "glob=*", ""]

REPORT = """
import json, os, sys
from mlxp_core.schedulers import job_id_from_env
print(json.dumps({'argv': sys.argv[1:], 'job': job_id_from_env(os.environ), 'cwd': os.getcwd()}))
print('to stderr', file=sys.stderr)
sys.exit(int(os.environ.get('EXIT_WITH', '0')))
"""

TASK_FILE = """
import json, os
from mlxp_core.schedulers import job_id_from_env
job = job_id_from_env(os.environ)
with open('task-%s.json' % job['array_task_id'], 'w') as f:
    json.dump(job, f)
"""

WAIT_FOR_TERM = """
import signal, sys, time
def on_term(signum, frame):
    print('got SIGTERM', flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
print('started', flush=True)
time.sleep(30)
print('not cancelled', flush=True)
"""


def make_job(sched: Scheduler, run_dir: Path, code: str, args: Optional[list[str]] = None,
             env: Optional[dict[str, str]] = None, **fields: Any) -> Path:
    """Render a job running ``code`` into ``run_dir/script.sh``; returns the script path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    job = JobSpec(
        job_name="logs/1", stdout=str(run_dir / "log.stdout"),
        stderr=str(run_dir / "log.stderr"), workdir=str(run_dir),
        command=[sys.executable, "-S", "-c", code, *(args or [])],
        env={"PYTHONPATH": str(REPO), **(env or {})}, **fields,
    )
    script = run_dir / "script.sh"
    script.write_text(render_script(sched, job), encoding="utf-8")
    return script


@pytest.fixture(params=NAMES)
def sched(request: pytest.FixtureRequest) -> Scheduler:
    return get_scheduler(request.param)


def test_job_runs_with_scheduler_environment(sched: Scheduler, tmp_path: Path) -> None:
    """One job prints what it sees; a second one fails: its exit code is recorded."""
    env = fake_env(tmp_path)
    run_dir, failing_dir = tmp_path / "logs" / "1", tmp_path / "logs" / "2"
    make_job(sched, run_dir, REPORT, NASTY, resources={"time": 10, "cpus": 1})
    make_job(sched, failing_dir, REPORT, env={"EXIT_WITH": "3"})
    job_id = submit(sched, "script.sh", str(run_dir), env=env)
    failing_id = submit(sched, str(failing_dir / "script.sh"), str(failing_dir), env=env)
    codes = wait_for_jobs(env["FAKE_SCHED_DIR"], [job_id, failing_id])
    assert sorted(codes.values()) == [0, 3]
    seen = json.loads((run_dir / "log.stdout").read_text())
    assert seen["argv"] == NASTY
    assert seen["cwd"] == str(run_dir)
    assert seen["job"] == {"name": sched.name, "job_id": job_id,
                           "array_job_id": job_id if sched.name == "oar" else None,
                           "array_task_id": "1" if sched.name == "oar" else None}
    assert (run_dir / "log.stderr").read_text() == "to stderr\n"
    states = {r["submit_id"]: r["state"] for r in records(env["FAKE_SCHED_DIR"])}
    assert states == {job_id: "COMPLETED", failing_id: "FAILED"}


def test_array_tasks_see_their_index(sched: Scheduler, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    run_dir = tmp_path / "run"
    assert sched.array is not None
    first = sched.array.min_index
    limit = None if sched.array.limit_format is None else 1
    make_job(sched, run_dir, TASK_FILE, array=(first, first + 1, limit))
    job_id = submit(sched, "script.sh", str(run_dir), env=env)
    codes = wait_for_jobs(env["FAKE_SCHED_DIR"], [job_id])
    assert sorted(codes.values()) == [0, 0]
    tasks = [json.loads(p.read_text()) for p in sorted(run_dir.glob("task-*.json"))]
    assert [t["array_task_id"] for t in tasks] == [str(first), str(first + 1)]
    assert {t["array_job_id"] for t in tasks} == {job_id}


def test_rejection_raises_with_scheduler_stderr(sched: Scheduler, tmp_path: Path) -> None:
    env = fake_env(tmp_path, reject="REJECT-ME")
    make_job(sched, tmp_path, REPORT, setup=["echo REJECT-ME"])
    with pytest.raises(SubmitError) as info:
        submit(sched, "script.sh", str(tmp_path), env=env)
    error = info.value
    assert error.returncode not in (0, None)
    assert error.stderr.strip() and error.stderr.strip().splitlines()[-1] in str(error)
    assert "exit status" in str(error) and sched.submit_command[0] in str(error)
    assert records(env["FAKE_SCHED_DIR"]) == []


def test_garbage_output_raises_quoting_it(sched: Scheduler, tmp_path: Path) -> None:
    env = fake_env(tmp_path, bad_output="1")
    make_job(sched, tmp_path, REPORT)
    with pytest.raises(SubmitError) as info:
        submit(sched, "script.sh", str(tmp_path), env=env)
    assert repr(info.value.stdout) in str(info.value)
    assert "unexpected reply" in str(info.value)


def test_missing_submit_command(sched: Scheduler, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    env["PATH"] = str(tmp_path / "empty")
    make_job(sched, tmp_path, REPORT)
    with pytest.raises(SubmitCommandNotFound, match=sched.submit_command[0]):
        check_submit_command(sched, env)
    with pytest.raises(SubmitCommandNotFound):
        submit(sched, "script.sh", str(tmp_path), env=env)
    assert check_submit_command(sched, fake_env(tmp_path)).startswith(str(REPO))


def test_cancel_sends_sigterm(sched: Scheduler, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    make_job(sched, tmp_path, WAIT_FOR_TERM)
    job_id = submit(sched, "script.sh", str(tmp_path), env=env)
    wait_for_text(tmp_path / "log.stdout", "started")
    cancel(sched, job_id, env=env)
    wait_for_jobs(env["FAKE_SCHED_DIR"], [job_id])
    assert "got SIGTERM" in wait_for_text(tmp_path / "log.stdout", "got SIGTERM")
    (record,) = records(env["FAKE_SCHED_DIR"])
    assert record["state"] == "CANCELLED"
    # the job script traps TERM: bash waits for the command, and the job ends with the
    # command's own status (0 here: the payload handled SIGTERM and exited 0)
    assert (record["signal"], record["exit_code"]) == (None, 0)


@pytest.mark.parametrize("name", ["slurm", "torque"])
def test_cancel_errors_name_the_command(name: str, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    with pytest.raises(SubmitError) as info:
        cancel(get_scheduler(name), "999", env=env)
    assert info.value.returncode not in (0, None)
    assert get_scheduler(name).cancel_command[0] + " 999" in str(info.value)
    assert info.value.stderr.strip() in str(info.value)
    env["PATH"] = str(tmp_path)
    with pytest.raises(SubmitCommandNotFound):
        cancel(get_scheduler(name), "999", env=env)


def test_golden_jobs_pass_the_fakes_validation(sched: Scheduler, tmp_path: Path) -> None:
    """The full rendered header (raw directives, resources, array) is accepted.

    The array variant holds every line of the single one, except on LSF (array in the name).
    """
    from golden_jobs import golden_job

    env = fake_env(tmp_path, norun="1")
    for array in (False, True) if sched.array and sched.array.in_job_name else (True,):
        job = golden_job(sched.name, array=array)
        job.stdout, job.stderr = str(tmp_path / "out"), str(tmp_path / "err")
        (tmp_path / "script.sh").write_text(render_script(sched, job), encoding="utf-8")
        assert submit(sched, "script.sh", str(tmp_path), env=env)


# --------------------------------------------------------------------------------------------
# The fakes themselves
# --------------------------------------------------------------------------------------------


def run_fake(tmp_path: Path, argv: list[str], script: Optional[str] = None,
             stdin: Optional[str] = None, **knobs: str) -> subprocess.CompletedProcess[str]:
    if script is not None:
        path = tmp_path / "job.sh"
        path.write_text(script)
        path.chmod(0o755)
    return subprocess.run(argv, cwd=tmp_path, env=fake_env(tmp_path, **knobs), input=stdin,
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(("argv", "script", "code", "stderr"), [
    (["sbatch", "job.sh"], "#!/bin/bash\n#SBATCH --foo\necho\n", 255,
     "sbatch: unrecognized option '--foo'\nTry \"sbatch --help\" for more information\n"),
    (["sbatch", "job.sh"], "#!/bin/bash\n#SBATCH -y\n", 255, "sbatch: invalid option -- 'y'"),
    (["sbatch", "job.sh"], "#!/bin/bash\n#SBATCH --time=abc\n", 255,
     "sbatch: error: Invalid --time specification"),
    (["sbatch", "job.sh"], "#!/bin/bash\n#SBATCH --array=a-b\n", 1,
     "Invalid job array specification"),
    (["sbatch", "job.sh"], "echo no shebang\n", 1, "This does not look like a batch script"),
    (["qsub", "job.sh"], "#!/bin/bash\n#$ -foo\n", 7, 'invalid option argument "-foo"'),
    (["qsub", "job.sh"], "#!/bin/bash\n#$ -l h_rt=1:00:00,bogus=1\n", 1,
     'unknown resource "bogus"'),
    (["qsub", "job.sh"], "#!/bin/bash\n#$ -pe mpi 4\n", 1, "parallel environment \"mpi\""),
    (["qsub", "job.sh"], "#!/bin/bash\n#$ -N a/b\n", 1, "not a valid object name"),
    (["qsub", "job.sh"], "#!/bin/bash\necho no directives\n", 2, "'#$' or '#PBS'"),
    (["qsub", "job.sh"], "#!/bin/bash\n#PBS -l walltime=soon\n", 1,
     "Illegal attribute or resource value  Resource_List.walltime"),
    (["qsub", "job.sh"], "#!/bin/bash\n#PBS -Q x\n", 2, "qsub: invalid option -- 'Q'"),
    (["msub", "job.sh"], "#!/bin/bash\n#MSUB -Q x\n", 1, "unknown option '-Q'"),
    (["oarsub", "-S", "./job.sh"], "#!/bin/bash\n#OAR -t fancy\n", 1, "unknown job type"),
    (["oarsub", "-S", "./job.sh"], "#!/bin/bash\n#OAR --frobnicate 1\n", 1, "Unknown option"),
    (["oarsub", "-S", "./job.sh"], "#!/bin/bash\n#OAR -l walltime=1h\n", 1, "walltime"),
    (["bsub"], None, 255, "Bad RUNLIMIT specification"),
])
def test_fakes_validate_directives(tmp_path: Path, argv: list[str], script: Optional[str],
                                   code: int, stderr: str) -> None:
    stdin = "#!/bin/bash\n#BSUB -W 1h\necho\n" if script is None else None
    proc = run_fake(tmp_path, argv, script, stdin)
    assert (proc.returncode, proc.stdout) == (code, "")
    assert stderr in proc.stderr


def test_fake_success_outputs_are_exact(tmp_path: Path) -> None:
    sge = run_fake(tmp_path, ["qsub", "job.sh"], "#!/bin/bash\n#$ -N demo\n#$ -t 1-4\n",
                   norun="1")
    assert sge.stdout == 'Your job-array 1000.1-4:1 ("demo") has been submitted\n'
    oar = run_fake(tmp_path, ["oarsub", "-S", "./job.sh"], "#!/bin/bash\n#OAR --array 2\n",
                   norun="1")
    assert oar.stdout == ("[ADMISSION RULE] Set default walltime to 7200.\n"
                          "[ADMISSION RULE] Modify resource description with type constraints\n"
                          "OAR_JOB_ID=1001\nOAR_JOB_ID=1002\nOAR_ARRAY_ID=1001\n")
    assert oar.stderr == "Simple array job submission is used\n"
    pbs = run_fake(tmp_path, ["qsub", "job.sh"], "#!/bin/bash\n#PBS -t 0-3%2\n", norun="1")
    assert pbs.stdout == "1003[].fakeserver.localdomain\n"
    moab = run_fake(tmp_path, ["msub", "job.sh"], "#!/bin/bash\n#MSUB -N x\n", norun="1")
    assert moab.stdout == "\n1004\n"
    lsf = run_fake(tmp_path, ["bsub"], stdin="#!/bin/bash\n#BSUB -q gpu\n", norun="1")
    assert lsf.stdout == "Job <1005> is submitted to queue <gpu>.\n"
    lsf = run_fake(tmp_path, ["bsub"], stdin="#!/bin/bash\n#BSUB -J x\n", norun="1")
    assert lsf.stdout == "Job <1006> is submitted to default queue <normal>.\n"
    slurm = run_fake(tmp_path, ["sbatch", "--parsable", "job.sh"], "#!/bin/bash\n", norun="1")
    assert slurm.stdout == "1007\n"


def test_oar_runs_the_submitted_file_itself(tmp_path: Path) -> None:
    """OAR does not copy the script: a script removed before the job starts fails the job."""
    sched = get_scheduler("oar")
    env = fake_env(tmp_path, norun="1")
    script = make_job(sched, tmp_path, REPORT)
    job_id = submit(sched, "script.sh", str(tmp_path), env=env)
    (record,) = records(env["FAKE_SCHED_DIR"])
    assert record["argv"] == [str(script)]
    assert os.access(script, os.X_OK)  # submit() made it executable
    assert job_id == record["key"]


def test_concurrent_submissions_get_unique_ids(tmp_path: Path) -> None:
    env = fake_env(tmp_path, norun="1")
    (tmp_path / "job.sh").write_text("#!/bin/bash\n#SBATCH --job-name=x\n")
    procs = [subprocess.Popen(["sbatch", "job.sh"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(6)]
    outputs = [proc.communicate(timeout=30)[0] for proc in procs]
    ids = [out.split()[-1] for out in outputs]
    assert len(set(ids)) == 6, outputs
