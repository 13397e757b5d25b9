"""The job every scheduler's golden script is rendered from (tests/golden/<name>.sh)."""

from __future__ import annotations

from typing import Any

from mlxp_core.schedulers import get_scheduler
from mlxp_core.schedulers.render import JobSpec

NASTY = [
    "optimizer.lr=10.",
    "msg='a b $HOME `x` ; *'",
    'quote="double" \\back',
    "text=line1\nline2",
    "glob=*.py",
    "empty=",
    "",
    "semi=a;b&&c|d>e<f",
    "unicode=été",
]

RAW_DIRECTIVES = {
    "slurm": ["--signal=USR2@120", "--qos=normal"],
    "oar": ["-t besteffort", "-t idempotent"],
    "sge": ["-j n", "-P myproject"],
    "torque": ["-m n", "-W group_list=ml"],
    "mwm": ["-m n", "#PBS -W group_list=ml"],
    "lsf": ["-G mlgroup", "-r"],
}


def golden_job(name: str, array: bool = False) -> JobSpec:
    resources: dict[str, Any] = {"partition": "gpu", "time": "6:00:00", "cpus": 4, "mem": "8G"}
    if name == "oar":
        del resources["mem"]  # OAR has no memory resource
    first = get_scheduler(name).array.min_index  # type: ignore[union-attr]
    limit = None if name == "oar" else 2
    return JobSpec(
        job_name="logs/1",
        stdout="/abs/path/logs/1/log.stdout",
        stderr="/abs/path/logs/1/log.stderr",
        workdir="/abs/path/workdir",
        command=["python", "main.py", *NASTY],
        directives=list(RAW_DIRECTIVES[name]),
        resources=resources,
        setup=["module load python/3.11", "source /abs/path/venv/bin/activate"],
        env={"MLXP_NOTE": "it's $HOME"},
        array=(first, first + 3, limit) if array else None,
    )
