"""Scheduler descriptions: rendering (golden files), shell quoting, job-id parsing, resources,
the registry and job detection from the environment. No scheduler needed.

Regenerate the golden files with ``MLXP_UPDATE_GOLDEN=1 python -m pytest <this file>`` and
review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from golden_jobs import NASTY, golden_job

from mlxp_core.schedulers import (
    SCHEDULERS,
    get_scheduler,
    job_id_from_env,
    parse_resources,
    parse_time,
    scheduler_for_prefix,
)
from mlxp_core.schedulers.base import (
    JobSpecError,
    SubmitError,
    format_hm,
    format_hms,
    parse_job_id,
    parse_mem,
)
from mlxp_core.schedulers.render import JobSpec, render_local_script, render_script

GOLDEN = Path(__file__).resolve().parents[1] / "golden"

NAMES = ["slurm", "oar", "sge", "torque", "mwm", "lsf"]



@pytest.mark.parametrize("array", [False, True], ids=["single", "array"])
@pytest.mark.parametrize("name", NAMES)
def test_golden(name: str, array: bool) -> None:
    text = render_script(get_scheduler(name), golden_job(name, array))
    path = GOLDEN / f"{name}{'_array' if array else ''}.sh"
    if os.environ.get("MLXP_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_oar_example_exact() -> None:
    job = JobSpec(
        job_name="logs/1",
        stdout="/abs/path/logs/1/log.stdout",
        stderr="/abs/path/logs/1/log.stderr",
        workdir="/abs/path/workdir",
        command=["python", "main.py", "optimizer.lr=10.", "seed=1"],
        directives=["-l core=1, walltime=6:00:00", "-t besteffort", "-t idempotent"],
    )
    assert render_script(get_scheduler("oar"), job) == (
        "#!/bin/bash\n"
        "#OAR -n logs/1\n"
        "#OAR -E /abs/path/logs/1/log.stderr\n"
        "#OAR -O /abs/path/logs/1/log.stdout\n"
        "#OAR -l core=1, walltime=6:00:00\n"
        "#OAR -t besteffort\n"
        "#OAR -t idempotent\n"
        "\n"
        "trap : TERM USR2\n"  # what the job needs beyond the issue's shape
        "cd /abs/path/workdir\n"
        "python main.py optimizer.lr=10. seed=1\n"
    )


PAYLOAD = ("import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(), "
           "'note': os.environ.get('MLXP_NOTE'), 'setup': os.environ.get('SETUP_DONE')}))")


@pytest.mark.parametrize("name", NAMES)
def test_rendered_script_passes_arguments_literally(name: str, tmp_path: Path) -> None:
    workdir = tmp_path / "work dir $x"
    workdir.mkdir()
    job = golden_job(name)
    job.command = [sys.executable, "-c", PAYLOAD, *NASTY]
    job.workdir = str(workdir)
    job.setup = ["SETUP_DONE=yes", "export SETUP_DONE"]
    script = tmp_path / "script.sh"
    script.write_text(render_script(get_scheduler(name), job))
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen == {"argv": NASTY, "cwd": str(workdir), "note": "it's $HOME", "setup": "yes"}


def test_teardown_keeps_the_command_exit_status(tmp_path: Path) -> None:
    job = golden_job("slurm")
    job.workdir = str(tmp_path)
    job.setup = []
    job.command = [sys.executable, "-c", "import sys; print('ran'); sys.exit(3)"]
    job.teardown = ["echo teardown", "true"]
    script = tmp_path / "script.sh"
    script.write_text(render_script(get_scheduler("slurm"), job))
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30,
                          check=False)
    assert (proc.returncode, proc.stdout) == (3, "ran\nteardown\n")


def test_local_script_has_no_directives() -> None:
    job = golden_job("slurm")
    body = render_script(get_scheduler("slurm"), job).split("\n\n", 1)[1]
    assert render_local_script(job) == "#!/bin/bash\n\n" + body
    assert body.startswith("module load python/3.11\n")
    job.array = (0, 1, None)
    with pytest.raises(JobSpecError, match="array"):
        render_local_script(job)


# --------------------------------------------------------------------------------------------
# Job ids
# --------------------------------------------------------------------------------------------

JOB_ID_OUTPUTS = [
    ("slurm", "Submitted batch job 123\n", "123"),
    ("slurm", "sbatch: Submitted batch job 77\n", "77"),
    ("oar", "[ADMISSION RULE] Set default walltime to 7200.\n"
            "[ADMISSION RULE] Modify resource description with type constraints\n"
            "OAR_JOB_ID=123\n", "123"),
    ("oar", "[ADMISSION RULE] Modify resource description with type constraints\n"
            "OAR_JOB_ID=40\nOAR_JOB_ID=41\nOAR_JOB_ID=42\nOAR_ARRAY_ID=40\n", "40"),
    ("sge", 'Your job 123 ("name") has been submitted\n', "123"),
    ("sge", 'Your job-array 123.1-4:1 ("my job (1)") has been submitted\n', "123"),
    ("torque", "123.server.domain\n", "123.server.domain"),
    ("torque", "123[].server\n", "123[].server"),
    ("torque", "Notice: your account is over quota\nNotice: see the docs\n"
               "1584224.biocluster.igb.illinois.edu\n", "1584224.biocluster.igb.illinois.edu"),
    ("torque", "123\n", "123"),
    ("lsf", "Job <123> is submitted to queue <normal>.\n", "123"),
    ("lsf", "Job <124> is submitted to default queue <normal>.\n", "124"),
    ("lsf", "<<Waiting for dispatch ...>>\nJob <125> is submitted to queue <gpu>.\n", "125"),
    ("mwm", "\n123\n", "123"),
    ("mwm", "\nMoab.123\n", "Moab.123"),
    ("mwm", "\n123.server\n", "123.server"),
]


@pytest.mark.parametrize(("name", "output", "expected"), JOB_ID_OUTPUTS)
def test_parse_job_id(name: str, output: str, expected: str) -> None:
    assert parse_job_id(get_scheduler(name), output) == expected


@pytest.mark.parametrize("name", NAMES)
def test_parse_job_id_garbage_quotes_output(name: str) -> None:
    garbage = "error: something odd happened\nplease retry later\n"
    with pytest.raises(SubmitError) as info:
        parse_job_id(get_scheduler(name), garbage, command="submit x")
    message = str(info.value)
    assert repr(garbage) in message
    assert name in message and "submit x" in message


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [
    (90, 5400), ("90", 5400), ("6:00:00", 21600), ("00:05:30", 330), ("2-01:00:00", 176400),
    ("48:00:00", 172800),
])
def test_parse_time(value: Any, seconds: int) -> None:
    assert parse_time(value) == seconds


@pytest.mark.parametrize(("value", "fragment"), [
    ("1:30", "ambiguous"), ("abc", "cannot read"), (0, "positive"), ("1:61:00", "below 60"),
    (1.5, "expected"), (True, "expected"),
])
def test_parse_time_errors(value: Any, fragment: str) -> None:
    with pytest.raises(JobSpecError, match=fragment):
        parse_time(value)


def test_formats() -> None:
    assert format_hms(21600) == "06:00:00"
    assert format_hms(200000) == "55:33:20"
    assert format_hm(5401) == "1:31"
    assert parse_mem("8G") == parse_mem("8GB") == parse_mem("8GiB") == parse_mem(8192)
    assert parse_mem("100k") == 100
    with pytest.raises(JobSpecError, match="mem"):
        parse_mem("lots")


@pytest.mark.parametrize(("name", "resources", "fragments"), [
    ("oar", {"mem": "4G"}, ["'oar'", "'mem'", "-p"]),
    ("sge", {"nodes": 2}, ["'sge'", "'nodes'"]),
    ("lsf", {"nodes": 3}, ["'lsf'", "'nodes'"]),
    ("oar", {"cpus": 3, "gpus": 2}, ["oar", "multiple"]),
    ("slurm", {"colour": "red"}, ["unknown resource 'colour'", "partition"]),
    ("slurm", {"queue": "a", "partition": "b"}, ["twice"]),
    ("slurm", {"cpus": 0}, ["'cpus'", "positive"]),
    ("slurm", {"partition": "a b"}, ["'partition'"]),
    ("slurm", {"time": "1:30"}, ["ambiguous"]),
])
def test_resource_errors(name: str, resources: dict[str, Any], fragments: list[str]) -> None:
    job = golden_job(name)
    job.resources = resources
    with pytest.raises(JobSpecError) as info:
        render_script(get_scheduler(name), job)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_resource_rendering_details() -> None:
    def lines(name: str, **resources: Any) -> list[str]:
        return get_scheduler(name).resource_lines(parse_resources(resources))

    assert lines("sge", mem="8G", cpus=4) == ["-pe smp 4", "-l h_vmem=2G"]  # per slot
    assert lines("sge", mem="5G", cpus=3) == ["-pe smp 3", "-l h_vmem=1707M"]
    assert lines("sge", nodes=1) == []
    assert lines("oar", time=90) == ["-l walltime=01:30:00"]
    assert lines("oar", gpus=2, cpus=8, nodes=1) == ["-l /nodes=1/gpu=2/core=4"]
    assert lines("torque", gpus=1) == ["-l nodes=1:gpus=1"]
    assert lines("mwm", mem=512) == ["-l mem=512mb"]
    assert lines("lsf", nodes=1) == ['-R "span[hosts=1]"']
    assert lines("lsf", time="00:00:30") == ["-W 0:01"]
    assert lines("slurm", queue="debug", account="a1", nodes=2, gpus=1) == [
        "--partition=debug", "--account=a1", "--nodes=2", "--gpus=1"]


# --------------------------------------------------------------------------------------------
# Rendering errors and quoting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("job_name", "a\nb", "newline"),
    ("stdout", "/abs/a\nb", "newline"),
    ("stderr", "/abs/a\rb", "newline"),
    ("stdout", "relative/log", "absolute"),
    ("workdir", "relative", "absolute"),
    ("stdout", '/abs/"q"', "double quote"),
    ("command", [], "non-empty"),
    ("command", "python main.py", "non-empty"),
    ("command", ["python", "a\0b"], "NUL"),
    ("env", {"BAD-NAME": "x"}, "shell name"),
    ("directives", ["-t besteffort\n-t idempotent"], "newline"),
    ("directives", ["#SBATCH --qos=x"], "prefix"),
    ("job_name", "   ", "non-empty"),
])
def test_render_rejects(field: str, value: Any, fragment: str) -> None:
    job = golden_job("oar")
    setattr(job, field, value)
    with pytest.raises(JobSpecError, match=fragment):
        render_script(get_scheduler("oar"), job)


def test_paths_with_spaces_quoted_only_where_readable() -> None:
    job = golden_job("slurm")
    job.stdout = "/abs/my logs/#1/out"
    text = render_script(get_scheduler("slurm"), job)
    assert '#SBATCH --output="/abs/my logs/#1/out"\n' in text
    job = golden_job("lsf")
    job.stderr = "/abs/my logs/err"
    assert '#BSUB -e "/abs/my logs/err"\n' in render_script(get_scheduler("lsf"), job)
    for name in ("oar", "sge", "torque", "mwm"):
        job = golden_job(name)
        job.stdout = "/abs/my logs/out"
        with pytest.raises(JobSpecError, match=f"spaces.*{name}"):
            render_script(get_scheduler(name), job)


def test_job_names_are_sanitized_per_scheduler() -> None:
    job = golden_job("sge")
    job.job_name = "logs/1 run:2"
    assert "#$ -N logs_1_run_2\n" in render_script(get_scheduler("sge"), job)
    job = golden_job("lsf", array=True)
    job.job_name = "run[3]"
    assert '#BSUB -J "run_3_[1-4]%2"\n' in render_script(get_scheduler("lsf"), job)
    job = golden_job("slurm")
    job.job_name = "my run"
    assert '#SBATCH --job-name="my run"\n' in render_script(get_scheduler("slurm"), job)


def test_oar_resources_must_share_one_l_line() -> None:
    job = golden_job("oar")
    job.directives = ["-l core=1, walltime=6:00:00"]
    with pytest.raises(JobSpecError, match="one '-l' line") as info:
        render_script(get_scheduler("oar"), job)
    assert "time" in str(info.value) and "cpus" in str(info.value)
    job.resources = {"partition": "gpu"}  # no -l generated: fine
    assert "#OAR -l core=1, walltime=6:00:00\n" in render_script(get_scheduler("oar"), job)


@pytest.mark.parametrize(("name", "array", "fragment"), [
    ("oar", (1, 4, 2), "cannot limit"),
    ("oar", (2, 4, None), "start at 1"),
    ("sge", (0, 3, None), "1 <= first"),
    ("slurm", (3, 1, None), "first <= last"),
    ("slurm", (0, 3, 0), "positive"),
    ("slurm", (0, "3", None), "integers"),
    ("slurm", (0, 3), "first, last"),
])
def test_array_errors(name: str, array: Any, fragment: str) -> None:
    job = golden_job(name)
    job.array = array
    with pytest.raises(JobSpecError, match=fragment):
        render_script(get_scheduler(name), job)


# --------------------------------------------------------------------------------------------
# Registry and job detection
# --------------------------------------------------------------------------------------------


def test_registry() -> None:
    assert sorted(SCHEDULERS) == ["lsf", "mwm", "oar", "pbs", "sge", "slurm", "torque"]
    assert get_scheduler("pbs") is get_scheduler("torque")
    assert get_scheduler("SLURM").name == "slurm"
    with pytest.raises(ValueError, match=r"unknown scheduler 'condor'.*lsf, mwm, oar, pbs"):
        get_scheduler("condor")
    prefixes = {"#SBATCH": "slurm", "#OAR": "oar", "#PBS": "torque", "#$": "sge",
                "#MSUB": "mwm", "#BSUB": "lsf"}
    for prefix, name in prefixes.items():
        assert scheduler_for_prefix(prefix).name == name
    with pytest.raises(ValueError, match="#SBATCH"):
        scheduler_for_prefix("#FLUX")


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),
    ({"SLURM_JOB_ID": "5"}, ("slurm", "5", None, None)),
    ({"SLURM_JOB_ID": "6", "SLURM_ARRAY_JOB_ID": "5", "SLURM_ARRAY_TASK_ID": "1"},
     ("slurm", "6", "5", "1")),
    ({"OAR_JOB_ID": "9", "OAR_ARRAY_ID": "9", "OAR_ARRAY_INDEX": "1"}, ("oar", "9", "9", "1")),
    ({"OAR_JOBID": "9"}, ("oar", "9", None, None)),
    ({"JOB_ID": "7"}, None),  # JOB_ID alone is too generic to mean Grid Engine
    ({"JOB_ID": "7", "SGE_TASK_ID": "undefined"}, ("sge", "7", None, None)),
    ({"JOB_ID": "7", "SGE_ROOT": "/sge"}, ("sge", "7", None, None)),
    ({"JOB_ID": "7", "SGE_TASK_ID": "3"}, ("sge", "7", "7", "3")),
    ({"PBS_JOBID": "8.srv"}, ("torque", "8.srv", None, None)),
    ({"PBS_JOBID": "8[2].srv", "PBS_ARRAYID": "2"}, ("torque", "8[2].srv", "8[].srv", "2")),
    ({"PBS_JOBID": "8[2].srv", "PBS_ARRAY_INDEX": "2", "PBS_ARRAY_ID": "8[].srv"},
     ("torque", "8[2].srv", "8[].srv", "2")),
    ({"LSB_JOBID": "4", "LSB_JOBINDEX": "0"}, ("lsf", "4", None, None)),
    ({"LSB_JOBID": "4", "LSB_JOBINDEX": "2"}, ("lsf", "4", "4", "2")),
    ({"MOAB_JOBID": "Moab.3", "PBS_JOBID": "3.srv"}, ("mwm", "Moab.3", None, None)),
    ({"MOAB_JOBID": "3[2]", "MOAB_JOBARRAYINDEX": "2"}, ("mwm", "3[2]", "3", "2")),
])
def test_job_id_from_env(environ: dict[str, str], expected: Any) -> None:
    found = job_id_from_env(environ)
    if expected is None:
        assert found is None
    else:
        keys = ("name", "job_id", "array_job_id", "array_task_id")
        assert found == dict(zip(keys, expected))


def test_schedulers_import_only_the_standard_library() -> None:
    code = ("import sys, mlxp_core.schedulers, mlxp_core.schedulers.render, "
            "mlxp_core.schedulers.commands; "
            "bad = [m for m in ('hydra', 'omegaconf', 'yaml', 'submitit') if m in sys.modules]; "
            "print(bad)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=True)
    assert proc.stdout.strip() == "[]"
