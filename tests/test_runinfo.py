"""runinfo's quick check for a scheduler job stays in step with the scheduler descriptions."""

from mlxp_core import runinfo
from mlxp_core.schedulers import SCHEDULERS


def test_job_variables_cover_every_scheduler() -> None:
    described = {name for s in SCHEDULERS.values() for name in s.env.job_id}
    assert set(runinfo._JOB_VARIABLES) == described


def test_no_scheduler_outside_a_job() -> None:
    assert runinfo.scheduler_from_env({"PATH": "/bin"}) is None
    assert runinfo.scheduler_from_env({"SLURM_JOB_ID": "7"})["job_id"] == "7"
