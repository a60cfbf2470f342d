"""Plotly figures for store pages, returned as HTML fragments.

plotly.js (the basic bundle in ``static/vendor/plotly/``) is loaded by the page
and draws the fragment's figure (``flashfusion.charts.figure_html``), so the
charts work without internet access.
"""

from datetime import UTC, datetime
from statistics import median

import plotly.graph_objects as go
from django.utils.html import escape
from django.utils.safestring import SafeString

from flashfusion.charts import WHITE, figure_html

OK_COLOUR = "#0d6efd"  # Bootstrap primary
FAILED_COLOUR = "#dc3545"  # Bootstrap danger


def _utc(moment: datetime) -> str:
    """A naive UTC timestamp string: plotly.js draws dates without time zones."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def latency_summary(checks) -> str:
    """One sentence that says what the latency chart shows (its text alternative)."""
    answered = [check.latency * 1000 for check in checks if check.ok and check.latency is not None]
    failed = sum(1 for check in checks if not check.ok)
    parts = [f"{len(checks)} health check{'s' if len(checks) != 1 else ''} in the last 24 hours"]
    if answered:
        parts.append(f"median latency {median(answered):.0f} ms, slowest {max(answered):.0f} ms")
    parts.append(f"{failed} failed" if failed else "none failed")
    return "; ".join(parts) + "."


def latency_chart(checks, *, start: datetime, end: datetime, div_id: str = "latency-chart") -> SafeString:
    """HTML of a chart of health-check latency in milliseconds over ``start``–``end``.

    ``checks`` are ``HealthCheck`` rows in time order. Answered checks form
    the line; failed checks are red crosses on the time axis (they have no
    latency), with their error in the hover text.
    """
    answered = [check for check in checks if check.ok and check.latency is not None]
    failed = [check for check in checks if not check.ok]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            name="Latency",
            x=[_utc(check.checked_at) for check in answered],
            y=[round(check.latency * 1000, 1) for check in answered],
            mode="lines+markers",
            line={"color": OK_COLOUR, "width": 2},
            marker={"size": 5},
            hovertemplate="%{x|%H:%M:%S} UTC<br>%{y:.0f} ms<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            name="Failed check",
            x=[_utc(check.checked_at) for check in failed],
            y=[0] * len(failed),
            mode="markers",
            marker={"color": FAILED_COLOUR, "symbol": "x", "size": 11, "line": {"width": 1, "color": FAILED_COLOUR}},
            # plotly draws a few HTML tags in hover text: the store's error text is escaped first.
            customdata=[[check.get_health_display(), escape((check.error or "no error text")[:160])] for check in failed],
            hovertemplate="%{x|%H:%M:%S} UTC<br><b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>",
            cliponaxis=False,
        )
    )
    fig.update_layout(
        template=WHITE,
        height=280,
        margin={"l": 56, "r": 16, "t": 8, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        hovermode="closest",
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12},
    )
    fig.update_xaxes(range=[_utc(start), _utc(end)], title_text="Time (UTC)", showgrid=False)
    fig.update_yaxes(title_text="Latency (ms)", rangemode="tozero", zeroline=True)
    return figure_html(fig, div_id, height=280)
