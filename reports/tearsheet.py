"""quantstats HTML tearsheets of daily returns, rendered offline.

Three separate steps, as every report here:

1. :func:`prepare_returns` (compute): validate a daily return series and shape it the way
   quantstats wants it (float64, sorted, finite, tz-naive UTC index).
2. :func:`render_tearsheet_html` (render): produce the HTML as a string. Series too short or
   without a single non-zero return get a small self-contained page saying so instead of a
   quantstats report full of NaN (or a traceback). On quantstats' page, the drawdown rows and
   table come from our own metrics (:mod:`reports.tearsheet_tables`), charts the data cannot
   fill are left out with a note and the ones quantstats draws wrong are redrawn
   (:mod:`reports.tearsheet_charts`).
3. :func:`write_tearsheet` (persist): write the page atomically and return its path.

Rendering never touches the network: no benchmark is downloaded (``benchmark=None``), figures are
inlined SVG drawn by matplotlib's non-interactive Agg backend, the template's CSS is inline, and
the one external reference in quantstats' template (a favicon on qtpylib.io) is removed.
quantstats' and matplotlib's warnings (deprecations, missing Arial font, empty-slice means) are
silenced while rendering; exceptions still propagate. The page is deterministic for a given
series (fixed SVG id salt, the SVG render-timestamp metadata stripped), so reruns can be diffed.
quantstats needs ~1 s to import and ~1 s to render 200 to 1,000 days (this machine).
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from engine.metrics import max_drawdown, total_return
from reports.tearsheet_charts import complete_charts
from reports.tearsheet_tables import complete_tables

__all__ = [
    "MIN_DAYS",
    "degenerate_reason",
    "prepare_returns",
    "render_tearsheet_html",
    "write_tearsheet",
]

MIN_DAYS: Final = 5
"""Fewest daily returns for a full quantstats tearsheet; shorter series get a minimal page."""

_FAVICON_LINK: Final = re.compile(r"<link[^>]*rel=\"shortcut icon\"[^>]*>\s*", re.IGNORECASE)
_SVG_METADATA: Final = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_TITLE_TAG: Final = re.compile(r"<title>.*?</title>", re.IGNORECASE | re.DOTALL)
_QUIET_LOGGERS: Final = ("matplotlib", "matplotlib.font_manager", "quantstats")


def prepare_returns(returns: pd.Series) -> pd.Series:
    """Validate daily simple returns and convert them to quantstats' preferred shape.

    Parameters
    ----------
    returns : pandas.Series
        Daily simple returns indexed by a UTC ``DatetimeIndex`` (a tz-naive index is taken as UTC).

    Returns
    -------
    pandas.Series
        float64 returns named ``"Strategy"``, sorted, non-finite values dropped, indexed by a
        tz-naive UTC ``DatetimeIndex`` (quantstats strips time zones itself; doing it here keeps
        its date arithmetic and labels predictable).

    Raises
    ------
    TypeError
        If ``returns`` is not a Series with a ``DatetimeIndex``.
    ValueError
        If the index has duplicate timestamps.
    """
    if not isinstance(returns, pd.Series) or not isinstance(returns.index, pd.DatetimeIndex):
        raise TypeError("returns must be a pandas Series with a DatetimeIndex")
    index = returns.index
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if index.has_duplicates:
        raise ValueError("returns index has duplicate timestamps")
    values = pd.to_numeric(returns, errors="raise").to_numpy(dtype=np.float64, copy=True)
    prepared = pd.Series(values, index=index, name="Strategy").sort_index()
    return prepared[np.isfinite(prepared.to_numpy())]


def degenerate_reason(returns: pd.Series, min_days: int = MIN_DAYS) -> str | None:
    """Return why ``returns`` cannot make a meaningful tearsheet, or ``None`` if it can.

    Parameters
    ----------
    returns : pandas.Series
        Prepared daily returns (see :func:`prepare_returns`).
    min_days : int, default MIN_DAYS
        Fewest returns for a full tearsheet.

    Returns
    -------
    str or None
        A human-readable reason, or ``None``.
    """
    if len(returns) < min_days:
        return f"only {len(returns)} daily return(s); a tearsheet needs at least {min_days}"
    if not bool(np.any(returns.to_numpy() != 0.0)):
        return "every daily return is zero (no trades, or no change in equity)"
    return None


@contextlib.contextmanager
def _quiet_offline_plotting() -> Iterator[None]:
    """Use the Agg backend, deterministic SVG ids, and silence warnings and log chatter."""
    import matplotlib

    matplotlib.use("Agg")
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with (
            warnings.catch_warnings(),
            np.errstate(all="ignore"),
            # deterministic SVG ids; no x margin, so date axes end at the first and last day of data
            matplotlib.rc_context({"svg.hashsalt": "tearsheet", "axes.xmargin": 0.0}),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _render_quantstats(returns: pd.Series, title: str, periods_per_year: int) -> str:
    """Render quantstats' full HTML tearsheet (no benchmark) and return it as a string."""
    with _quiet_offline_plotting():
        import quantstats as qs

        # quantstats only writes HTML to a file path: render into a private temp dir, read back.
        with tempfile.TemporaryDirectory(prefix="tearsheet-") as tmp:
            out = Path(tmp) / "tearsheet.html"
            qs.reports.html(
                returns,
                benchmark=None,
                rf=0.0,
                output=str(out),
                title=html.escape(title),
                periods_per_year=periods_per_year,
                compounded=True,
                figfmt="svg",
            )
            page = out.read_text(encoding="utf-8")
        page = complete_charts(complete_tables(page, returns), returns, periods_per_year)
    page = _SVG_METADATA.sub("", _FAVICON_LINK.sub("", page))  # metadata holds a render timestamp
    return _TITLE_TAG.sub(lambda _: f"<title>{html.escape(title)}</title>", page, count=1)


def _minimal_html(returns: pd.Series, title: str, reason: str) -> str:
    """Render a small self-contained page for a series too degenerate for quantstats."""
    span = "no data"
    if len(returns):
        span = f"{returns.index[0]:%Y-%m-%d} to {returns.index[-1]:%Y-%m-%d} (UTC)"
    values = returns.to_numpy()
    rows = [
        ("Period", span),
        ("Daily returns", str(len(values))),
        ("Non-zero returns", str(int(np.count_nonzero(values)))),
        ("Total return", _pct(total_return(values))),
        ("Max drawdown", _pct(max_drawdown(values))),
    ]
    table = "\n".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>" for name, value in rows
    )
    esc_title = html.escape(title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc_title}</title>\n"
        "<style>body{font:14px/1.4 Arial,sans-serif;margin:30px}"
        "th{text-align:left;padding-right:20px}</style>\n"
        "</head>\n<body>\n"
        f"<h1>{esc_title}</h1>\n"
        f'<p class="degenerate">No full tearsheet: {html.escape(reason)}.</p>\n'
        f"<table>\n{table}\n</table>\n"
        "</body>\n</html>\n"
    )


def _pct(value: float) -> str:
    """Format a fraction as a percentage, or ``n/a`` when undefined."""
    return f"{value:.2%}" if math.isfinite(value) else "n/a"


def render_tearsheet_html(
    returns: pd.Series, title: str, periods_per_year: int, *, min_days: int = MIN_DAYS
) -> str:
    """Render the tearsheet of prepared daily returns to an HTML string.

    Parameters
    ----------
    returns : pandas.Series
        Output of :func:`prepare_returns`.
    title : str
        Page title (HTML-escaped here).
    periods_per_year : int
        Annualisation periods (the traded asset classes' trading days a year).
    min_days : int, default MIN_DAYS
        Fewest returns for a full quantstats tearsheet.

    Returns
    -------
    str
        quantstats' full HTML tearsheet, or a minimal page saying why there is none.
    """
    reason = degenerate_reason(returns, min_days)
    if reason is not None:
        return _minimal_html(returns, title, reason)
    return _render_quantstats(returns, title, periods_per_year)


def write_tearsheet(returns: pd.Series, path: Path, title: str, periods_per_year: int) -> Path:
    """Write the HTML tearsheet of daily returns to ``path``.

    Parameters
    ----------
    returns : pandas.Series
        Daily simple returns on a UTC ``DatetimeIndex``.
    path : pathlib.Path
        Destination file; parent folders are created, the file is replaced atomically.
    title : str
        Page title.
    periods_per_year : int
        Annualisation periods (the traded asset classes' trading days a year).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    page = render_tearsheet_html(prepare_returns(returns), title, periods_per_year)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder: os.replace is atomic
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
