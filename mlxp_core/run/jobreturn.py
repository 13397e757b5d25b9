"""`job_return.pkl`: how a job hands its status and return value back to a waiting head."""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from hydra.core.utils import JobReturn, JobStatus

from mlxp_core.record.atomic import write_bytes_atomic
from mlxp_core.record.info import COMPLETE, FAILED

FILE = "job_return.pkl"
log = logging.getLogger("mlxp")


def dump(directory: Path, error: Optional[BaseException], value: Any, **job: Any) -> None:
    """Write `{status, value, **job}` (COMPLETE with the task's return value, or FAILED with
    its exception); a value that cannot be pickled is kept as its repr.

    `job` may carry JobReturn fields of the job (cfg, hydra_cfg, working_dir, task_name).
    """
    import cloudpickle  # only jobs of a launcher write this file: not imported otherwise

    status = FAILED if error is not None else COMPLETE
    if error is not None:
        value = error
    record: Dict[str, Any] = {"status": status, "value": value, **job}
    try:
        data = cloudpickle.dumps(record)
    except Exception as exc:  # unpicklable return value or exception
        log.warning("mlxp: the job's return value cannot be pickled (%s); keeping its repr", exc)
        record["value"] = RuntimeError(repr(value)) if status == FAILED else repr(value)
        data = cloudpickle.dumps(record)
    write_bytes_atomic(directory / FILE, data)


def load(directory: Path) -> Optional[Dict[str, Any]]:
    path = directory / FILE
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        record: Dict[str, Any] = pickle.load(handle)
    return record


def outcome(job_return: JobReturn) -> Tuple[Optional[BaseException], Any]:
    """(the task's exception or None, its return value) through JobReturn's public getter.

    The getter re-raises a failed task's exception and writes a line on stderr; both are
    caught here.
    """
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return None, job_return.return_value
        except BaseException as exc:  # the task's own exception, whatever it is
            return exc, None


class JobFailedError(RuntimeError):
    """A job ended without a result (killed, interrupted, or crashed before the task)."""


def to_job_return(record: Optional[Dict[str, Any]], overrides: List[str], workdir: str,
                  task_name: str, no_result: str) -> JobReturn:
    """A JobReturn from a job's `job_return.pkl` record (`no_result`: the error if none)."""
    ret = JobReturn(overrides=list(overrides), working_dir=workdir, task_name=task_name)
    if record is None:
        ret.status = JobStatus.FAILED
        ret.return_value = JobFailedError(no_result)
        return ret
    for name in ("cfg", "hydra_cfg", "working_dir", "task_name"):
        if record.get(name) is not None:
            setattr(ret, name, record[name])
    # our COMPLETE is Hydra's JobStatus.COMPLETED; the translation happens here only
    ret.status = JobStatus.COMPLETED if record["status"] == COMPLETE else JobStatus.FAILED
    value = record["value"]
    if ret.status == JobStatus.FAILED and not isinstance(value, BaseException):
        value = JobFailedError(str(value))
    ret.return_value = value
    return ret
