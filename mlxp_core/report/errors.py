"""The report's one error type: bad input, named with what would be valid."""

from __future__ import annotations

from mlxp_core.errors import MLXPError

REPORT_EXTRA = 'pip install "mlxp-core[report]"'


class ReportError(MLXPError, ValueError):
    """A report cannot be made as asked: unknown key or metric, bad option, missing extra."""


def need_matplotlib() -> None:
    """Raise :class:`ReportError` naming the extra when matplotlib is not installed.

    Checked before any file is read, so a user who only installed the launcher learns it at
    once instead of after the metrics are loaded.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ReportError("figures need matplotlib, which is not installed; install the "
                          f"report extra: {REPORT_EXTRA}") from exc
