"""Plotly figures of the job metrics page, returned as HTML fragments, each with a one-sentence text alternative.

Input is an ``agents.metrics.JobMetrics``. plotly.js comes from our static
files and draws each fragment's figure (``flashfusion.charts.figure_html``).
Each ``*_chart`` has a ``*_summary`` that says in words what it shows; the
template puts it in the figure's ``aria-label`` and caption.
"""

from datetime import UTC, datetime

import plotly.graph_objects as go
from django.utils.safestring import SafeString

from agents.metrics import JobMetrics
from flashfusion.charts import WHITE, figure_html

#: One colour per kind, in row order (Bootstrap primary, teal, orange, purple, then greys).
KIND_COLOURS = ["#0d6efd", "#20c997", "#fd7e14", "#6f42c1", "#6c757d", "#adb5bd"]
P50_COLOUR = "#0d6efd"  # primary
P95_COLOUR = "#6ea8fe"  # primary, lighter
FAILURE_COLOUR = "#dc3545"  # danger
RETRY_COLOUR = "#ffc107"  # warning
DUE_COLOUR = "#495057"  # dark grey: not a kind's colour
WAITING_COLOUR = "#ced4da"
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12}


def _utc(moment: datetime) -> str:
    """A naive UTC timestamp string: plotly.js draws dates without time zones."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    return f"{value / 60:.1f} min"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _html(fig: go.Figure, div_id: str, *, height: int = 280) -> SafeString:
    fig.update_layout(
        template=WHITE,
        height=height,
        margin={"l": 56, "r": 16, "t": 8, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        font=FONT,
    )
    return figure_html(fig, div_id, height=height)


# --- finished jobs over time --------------------------------------------


def throughput_summary(metrics: JobMetrics) -> str:
    total = metrics.total
    window = metrics.window.label.lower()
    if not total.finished:
        return f"No jobs finished in the {window}."
    busiest = max(metrics.kinds, key=lambda row: row.finished)
    peak = max((sum(values) for values in zip(*metrics.series.values(), strict=True)), default=0)
    return (
        f"{total.finished} job{'s' if total.finished != 1 else ''} finished in the {window} "
        f"({total.throughput:.1f} per hour), most of them {busiest.label.lower()} ({busiest.finished}); "
        f"the busiest {metrics.window.bucket_label} saw {peak}."
    )


def throughput_chart(metrics: JobMetrics, *, div_id: str = "throughput-chart") -> SafeString:
    """Stacked bars: jobs finished per bucket (``metrics.window.bucket_label``), one colour per kind."""
    fig = go.Figure()
    x = [_utc(moment) for moment in metrics.buckets]
    for index, row in enumerate(metrics.kinds):
        fig.add_trace(
            go.Bar(
                name=row.label,
                x=x,
                y=metrics.series[row.kind],
                marker={"color": KIND_COLOURS[index % len(KIND_COLOURS)]},
                hovertemplate=f"{row.label}<br>%{{x|%b %d %H:%M}} UTC<br>%{{y}} finished<extra></extra>",
                xperiod=metrics.window.bucket.total_seconds() * 1000,
                xperiodalignment="start",
            )
        )
    fig.update_layout(barmode="stack", bargap=0.15, hovermode="closest")
    fig.update_xaxes(range=[_utc(metrics.start), _utc(metrics.end)], title_text="Time (UTC)", showgrid=False)
    fig.update_yaxes(title_text=f"Jobs finished per {metrics.window.bucket_label}", rangemode="tozero")
    return _html(fig, div_id)


# --- durations ----------------------------------------------------------


def duration_summary(metrics: JobMetrics) -> str:
    timed = [row for row in metrics.kinds if row.durations]
    if not timed:
        return "No job succeeded in this window, so there are no durations."
    parts = [f"{row.label}: median {_seconds(row.p50)}, 95th percentile {_seconds(row.p95)}" for row in timed]
    return "Duration of succeeded jobs — " + "; ".join(parts) + "."


def duration_chart(metrics: JobMetrics, *, div_id: str = "duration-chart") -> SafeString:
    """Grouped bars: p50 and p95 duration in seconds per kind (kinds without a succeeded job are left out)."""
    timed = [row for row in metrics.kinds if row.durations]
    labels = [row.label for row in timed]
    fig = go.Figure()
    for name, colour, values in (
        ("Median (p50)", P50_COLOUR, [row.p50 for row in timed]),
        ("95th percentile (p95)", P95_COLOUR, [row.p95 for row in timed]),
    ):
        fig.add_trace(
            go.Bar(
                name=name, x=labels, y=[round(v, 2) for v in values], marker={"color": colour},
                customdata=[len(row.durations) for row in timed],
                hovertemplate=f"%{{x}}<br>{name}: %{{y:.2f}} s<br>%{{customdata}} jobs<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_yaxes(title_text="Duration (s)", rangemode="tozero")
    return _html(fig, div_id)


# --- failure and retry rates --------------------------------------------


def rates_summary(metrics: JobMetrics) -> str:
    rated = [row for row in metrics.kinds if row.attempts or row.ran]
    if not rated:
        return "No attempts ended in this window, so there are no failure or retry rates."
    parts = [
        f"{row.label}: {_percent(row.failure_rate)} of {row.attempts} attempts failed, "
        f"{_percent(row.retry_rate)} of {row.ran} finished jobs needed a retry"
        for row in rated
    ]
    return "; ".join(parts) + "."


def rates_chart(metrics: JobMetrics, *, div_id: str = "rates-chart") -> SafeString:
    """Grouped bars: failure rate and retry rate (percent) per kind."""
    rated = [row for row in metrics.kinds if row.attempts or row.ran]
    labels = [row.label for row in rated]
    fig = go.Figure()
    for name, colour, values, counts in (
        ("Failed attempts", FAILURE_COLOUR, [row.failure_rate for row in rated],
         [f"{row.failed_attempts} of {row.attempts} attempts" for row in rated]),
        ("Jobs retried", RETRY_COLOUR, [row.retry_rate for row in rated],
         [f"{row.retried} of {row.ran} finished jobs" for row in rated]),
    ):
        fig.add_trace(
            go.Bar(
                name=name, x=labels, y=[None if v is None else round(v * 100, 1) for v in values],
                marker={"color": colour}, customdata=counts,
                hovertemplate=f"%{{x}}<br>{name}: %{{y:.1f}}%<br>%{{customdata}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", hovermode="closest")
    # Small rates stay readable: the axis ends a little above the highest bar (at least 10%, at most 100%).
    highest = max((v * 100 for row in rated for v in (row.failure_rate, row.retry_rate) if v is not None), default=0)
    fig.update_yaxes(title_text="Percent", range=[0, min(100, max(10, highest * 1.15))], ticksuffix="%")
    return _html(fig, div_id)


# --- queue depth --------------------------------------------------------


def queue_summary(metrics: JobMetrics) -> str:
    total = metrics.total
    if not total.queued:
        return "No jobs are waiting in the queue now."
    parts = [f"{row.label} {row.queued} ({row.due} due)" for row in metrics.kinds if row.queued]
    jobs = f"{total.queued} job{'s' if total.queued != 1 else ''}"
    return f"{jobs} waiting now, {total.due} of them due: " + ", ".join(parts) + "."


def queue_chart(metrics: JobMetrics, *, div_id: str = "queue-chart") -> SafeString:
    """Stacked bars per kind: queued or retry jobs that are due now, and those still waiting (backoff, later start)."""
    waiting = [row for row in metrics.kinds if row.queued]
    labels = [row.label for row in waiting]
    fig = go.Figure()
    fig.add_trace(go.Bar(name="Due now", x=labels, y=[row.due for row in waiting], marker={"color": DUE_COLOUR},
                         hovertemplate="%{x}<br>%{y} due now<extra></extra>"))
    fig.add_trace(go.Bar(name="Not due yet", x=labels, y=[row.waiting for row in waiting],
                         marker={"color": WAITING_COLOUR},
                         hovertemplate="%{x}<br>%{y} waiting for their time<extra></extra>"))
    fig.update_layout(barmode="stack", hovermode="closest")
    fig.update_yaxes(title_text="Jobs waiting", rangemode="tozero")
    return _html(fig, div_id)
