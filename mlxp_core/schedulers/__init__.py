"""Batch schedulers mlxp-core can submit to, each a small declarative :class:`Scheduler`.

``SCHEDULERS`` maps every name (and alias) to its description: ``slurm``, ``oar``, ``sge``,
``torque`` (alias ``pbs``), ``mwm`` (Moab) and ``lsf``. Only the standard library is imported.
"""

from __future__ import annotations

from typing import Mapping, Optional

from mlxp_core.schedulers.base import (
    JobSpecError,
    Resources,
    Scheduler,
    SubmitCommandNotFound,
    SubmitError,
    parse_job_id,
    parse_resources,
    parse_time,
)
from mlxp_core.schedulers.lsf import LSF
from mlxp_core.schedulers.mwm import MWM
from mlxp_core.schedulers.oar import OAR
from mlxp_core.schedulers.sge import SGE
from mlxp_core.schedulers.slurm import SLURM
from mlxp_core.schedulers.torque import TORQUE

__all__ = [
    "DIRECTIVE_PREFIXES",
    "JOB_ID_VARIABLES",
    "SCHEDULERS",
    "JobSpecError",
    "Resources",
    "Scheduler",
    "SubmitCommandNotFound",
    "SubmitError",
    "get_scheduler",
    "job_id_from_env",
    "parse_job_id",
    "parse_resources",
    "parse_time",
    "scheduler_for_prefix",
]

_ALL = (SLURM, OAR, SGE, TORQUE, MWM, LSF)

# derived from the descriptions, never listed elsewhere
DIRECTIVE_PREFIXES: dict[str, str] = {sched.directive: sched.name for sched in _ALL}
JOB_ID_VARIABLES: tuple[str, ...] = tuple(
    dict.fromkeys(name for sched in _ALL for name in sched.env.job_id))

SCHEDULERS: dict[str, Scheduler] = {
    name: sched for sched in _ALL for name in (sched.name, *sched.aliases)
}

# Which job environment wins when several are set: Moab runs on top of TORQUE (its jobs see
# PBS_* too), so it is checked before TORQUE; SGE's generic JOB_ID comes last.
_DETECTION_ORDER = (SLURM, LSF, MWM, TORQUE, OAR, SGE)


def get_scheduler(name: str) -> Scheduler:
    """The description registered as ``name`` (case-insensitive)."""
    try:
        return SCHEDULERS[name.strip().lower()]
    except KeyError:
        valid = ", ".join(sorted(SCHEDULERS))
        raise ValueError(f"unknown scheduler {name!r}; valid names: {valid}") from None


def scheduler_for_prefix(prefix: str) -> Scheduler:
    """The scheduler whose directive prefix is ``prefix`` (``'#PBS'`` is TORQUE)."""
    wanted = prefix.strip()
    for sched in _ALL:
        if sched.directive == wanted:
            return sched
    valid = ", ".join(sched.directive for sched in _ALL)
    raise ValueError(f"unknown directive prefix {prefix!r}; valid prefixes: {valid}")


def job_id_from_env(environ: Mapping[str, str]) -> Optional[dict[str, Optional[str]]]:
    """``{name, job_id, array_job_id, array_task_id}`` of the job running with ``environ``.

    ``None`` outside a scheduler job. Values are strings as the scheduler sets them;
    ``array_job_id`` and ``array_task_id`` are ``None`` for a non-array job, except on OAR,
    which gives every job an array id and index 1 (the two cases cannot be told apart there).
    Grid Engine's ``JOB_ID`` only counts when ``SGE_TASK_ID`` or ``SGE_ROOT`` is also set.
    """
    if not any(name in environ for name in JOB_ID_VARIABLES):
        return None  # the common case outside a job: one pass over a dozen names
    for sched in _DETECTION_ORDER:
        found = sched.job_from_env(environ)
        if found is not None:
            return found
    return None
