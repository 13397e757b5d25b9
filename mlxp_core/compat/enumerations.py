"""MLXP 1.0.5's enumerations (``mlxp.enumerations``).

``Status`` has MLXP's four values and the statuses mlxp-core records besides (SUBMITTED,
SUBMIT_FAILED, DRY_RUN, INTERRUPTED: docs/run_directory.md); mlxp-core never writes STARTING.
"""

from __future__ import annotations

from enum import Enum


class SearchableKeys(Enum):
    """Prefixes of the fields MLXP's query language accepts (ours also accepts log_id)."""

    Info = "info."
    Config = "config."


class DataFrameType(Enum):
    """The ``result_format`` values of ``Reader.filter``."""

    Pandas = "pandas"
    DataFrame = "datadict"


class Directories(Enum):
    """The sub-directories of a run directory."""

    Metrics = "metrics"
    Metadata = "metadata"
    Artifacts = "artifacts"
    Sessions = "sessions"  # MLXP's name; never created (by MLXP either)


class Status(Enum):
    """The status of a run (``info.status``)."""

    STARTING = "STARTING"  # MLXP only: metadata written, the task not started
    SUBMITTED = "SUBMITTED"
    SUBMIT_FAILED = "SUBMIT_FAILED"
    DRY_RUN = "DRY_RUN"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
