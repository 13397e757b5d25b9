"""Look at a sweep: grouped, seed-averaged curves, a table of groups, failures.

    from mlxp_core.report import build_report, plot
    build_report("./logs", output="report.html")       # what `mlxp report` does
    fig = plot(reader, "train.loss", group_by=["optimizer.lr"])

The grouping and aggregation live in one place (:mod:`mlxp_core.report.groups`), used by the
HTML page (:mod:`mlxp_core.report.page`) and by ``Reader.plot``, so a notebook shows the same
picture as the page. Importing this package is cheap: pandas and matplotlib load on first use.
See docs/report.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlxp_core.report.errors import ReportError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ReportError", "build_report", "plot"]


def build_report(*args: Any, **kwargs: Any) -> Any:
    """Write the HTML report; see :func:`mlxp_core.report.page.build_report`."""
    from mlxp_core.report.page import build_report as build

    return build(*args, **kwargs)


def plot(*args: Any, **kwargs: Any) -> Figure:
    """One metric's curves per group; see :func:`mlxp_core.report.figures.plot`."""
    from mlxp_core.report.figures import plot as plot_

    return plot_(*args, **kwargs)
