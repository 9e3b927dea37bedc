"""HTML reports: a run's page (live while it trains), several runs compared, a search.

    from twolayer.report import RunResults, live_report_callback, write_report
    solver = Solver(model, data, ..., on_epoch_end=live_report_callback(run_dir))
    solver.train()
    write_report(run_dir, history=history_from_solver(solver), results=RunResults(...))

    compare_runs_html(["runs/a", "runs/b"], "compare.html")
    write_search_report("searches/spiral")

Every page is one self-contained HTML file (pictures inline, nothing fetched), written
atomically. Modules: ``run`` (a run's page), ``results`` (what an evaluation adds),
``curves`` (every chart, built once: the report draws it as SVG, :mod:`twolayer.plots`
as PNG), ``compare``, ``search``, and the drawing helpers ``svg``, ``pictures``,
``png`` (Pillow) and ``html``.
"""

from twolayer.report.compare import compare_runs_html
from twolayer.report.results import RunResults
from twolayer.report.run import (
    REPORT_HTML,
    ROWS_LIVE_SECONDS,
    live_report_callback,
    render_report,
    write_report,
)
from twolayer.report.search import write_search_report

__all__ = [
    "REPORT_HTML",
    "ROWS_LIVE_SECONDS",
    "RunResults",
    "compare_runs_html",
    "live_report_callback",
    "render_report",
    "write_report",
    "write_search_report",
]
