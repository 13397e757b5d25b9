"""MLXP's exceptions (``mlxp.errors``), mapped onto mlxp-core's: see mlxp_core.compat.errors."""

from mlxp_core.compat.errors import (
    InvalidArtifactError,
    InvalidConfigFileError,
    InvalidKeyError,
    InvalidMapError,
    InvalidSchedulerError,
    InvalidShellPathError,
    JobSubmissionError,
    MissingFieldError,
    UnknownSystemError,
)
from mlxp_core.errors import MLXPError

__all__ = [
    "InvalidArtifactError",
    "InvalidConfigFileError",
    "InvalidKeyError",
    "InvalidMapError",
    "InvalidSchedulerError",
    "InvalidShellPathError",
    "JobSubmissionError",
    "MLXPError",
    "MissingFieldError",
    "UnknownSystemError",
]
