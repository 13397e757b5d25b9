"""MLXP 1.0.5's exception names (``mlxp.errors``), mapped onto ours where they mean the same.

* ``InvalidArtifactError`` is :class:`mlxp_core.errors.ArtifactError` and
  ``InvalidConfigFileError`` is :class:`mlxp_core.errors.SettingsError` (the same classes).
* ``InvalidKeyError`` is the base of the Reader's ``UnknownKeyError`` (a query, group or column
  key that no run has); ``InvalidMapError`` is the Reader's (a bad map of DataFrame.apply ...).
* The others are MLXP's names for errors our code reports otherwise, or never has (see the
  notes on each); they exist so that ``except mlxp.errors.X`` keeps working.

No import of anything heavy: this module is imported by ``mlxp_core.reader.errors``.
"""

from __future__ import annotations

from mlxp_core.errors import ArtifactError, MLXPError, SettingsError

InvalidArtifactError = ArtifactError
InvalidConfigFileError = SettingsError


class InvalidKeyError(MLXPError, KeyError):
    """A key is invalid: a Reader key no run has, a reserved or malformed log name (MLXP)."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


class InvalidMapError(MLXPError, ValueError):
    """A map of DataFrame.apply/aggregate/transform/map/filter is not a valid
    ``(function, keys[, output names])`` or returns the wrong shape."""


class MissingFieldError(MLXPError, KeyError):
    """A required config field is missing (MLXP: ``seed`` when a seeding function is given)."""


class JobSubmissionError(MLXPError):
    """The scheduler refused a job (MLXP raises it; mlxpsub records SUBMIT_FAILED)."""


class InvalidSchedulerError(MLXPError):
    """A batch script names no supported scheduler directive."""


class InvalidShellPathError(MLXPError):
    """No shell to run a job script (kept for MLXP's API; mlxp-core does not raise it)."""


class UnknownSystemError(MLXPError):
    """The operating system is not supported (kept for MLXP's API; not raised)."""


__all__ = [
    "InvalidArtifactError",
    "InvalidConfigFileError",
    "InvalidKeyError",
    "InvalidMapError",
    "InvalidSchedulerError",
    "InvalidShellPathError",
    "JobSubmissionError",
    "MissingFieldError",
    "UnknownSystemError",
]
