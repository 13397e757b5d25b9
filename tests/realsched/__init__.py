"""Helpers for the tests that submit real jobs to SLURM, Grid Engine and OAR on this machine.

Start the schedulers with ``bash scripts/schedulers/start-all.sh`` (``.ci/run`` does). The tests
skip when a scheduler is down, and fail instead when ``MLXP_REQUIRE_SCHEDULERS=1`` (CI).

* :mod:`realsched.schedulers`: ``scheduler_up``, ``require``, ``wait_done``, ``cancel``.
* :mod:`realsched.apps`: tutorial-style apps, batch scripts, reading run directories.
* :mod:`realsched.oarenv`: the virtualenv and directories of OAR's unprivileged submit user.
"""

from realsched.schedulers import (
    NAMES,
    JobEnd,
    cancel,
    require,
    scheduler_up,
    wait_done,
)

__all__ = ["NAMES", "JobEnd", "cancel", "require", "scheduler_up", "wait_done"]
