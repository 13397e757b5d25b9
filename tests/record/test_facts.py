"""What a run records about its process, and the job environment read from the descriptions."""

from mlxp_core.record.facts import process_facts
from mlxp_core.schedulers import JOB_ID_VARIABLES, SCHEDULERS, job_id_from_env


def test_job_variables_are_derived_from_every_description() -> None:
    for sched in SCHEDULERS.values():
        assert set(sched.env.job_id) <= set(JOB_ID_VARIABLES)


def test_no_scheduler_outside_a_job() -> None:
    assert job_id_from_env({"PATH": "/bin"}) is None
    job = job_id_from_env({"SLURM_JOB_ID": "7"})
    assert job is not None and job["name"] == "slurm" and job["job_id"] == "7"


def test_process_facts_record_the_scheduler_given() -> None:
    facts = process_facts(["a=1"], None, {"name": "oar", "job_id": "3"})
    assert facts["overrides"] == ["a=1"] and facts["scheduler"] == {"name": "oar", "job_id": "3"}
    assert facts["process_id"] > 0 and facts["python_version"]
