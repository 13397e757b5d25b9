"""Exceptions raised by mlxp-core, each with a message that says what to do."""

from __future__ import annotations


class MLXPError(Exception):
    """Base class of every error mlxp-core raises on purpose."""


class SettingsError(MLXPError):
    """`mlxp.yaml` or an `mlxp.*` override is invalid (unknown key, wrong type, bad YAML)."""


class ConfigError(MLXPError):
    """The user's config directory or `config.yaml` is missing or malformed."""


class LogNameError(MLXPError, ValueError):
    """A metric or artifact name is empty, reserved or would escape the run directory."""


class RunSetupError(MLXPError):
    """The run directory could not be prepared; the task was not started."""


class ResumeRefused(RunSetupError):
    """A resume was refused (the run is alive elsewhere, its record is unreadable, or the
    config differs); the run's directory and record are left untouched."""


class ArtifactError(MLXPError):
    """An artifact type is unknown, cannot be registered, or an artifact cannot be loaded."""


class UsageAbort(SystemExit):
    """Abort the whole command with a one-line message and exit code 1.

    Hydra turns any `Exception` raised by a callback into a warning and carries on, so a
    callback that must stop the command before anything runs raises this `SystemExit`
    subclass instead: Python prints the message on stderr and exits with status 1.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"mlxp: error: {message}")
        self.message = message


class DiskFull(SystemExit):
    """The disk (or quota) is full: the run ends FAILED with this message, exit status 1.

    A `SystemExit` (code 1) so that the task's usual handlers (`except Exception`) and
    Hydra's do not print a traceback or carry on writing to a full disk; `str()` is the
    one-line message.
    """

    def __init__(self, message: str) -> None:
        super().__init__(1)
        self.message = message

    def __str__(self) -> str:
        return self.message
