"""The job metrics page: figures per job kind over a window (last hour, 24 hours, 7 days), with charts.

Any member of the organization may see it; the figures are only ever the
organization's own jobs (``agents.metrics``).
"""

from django.shortcuts import render

from agents import metrics_charts as charts
from agents.metrics import WINDOWS, JobMetrics, job_metrics, window_for
from flashfusion.access import membership_for


def _charts(metrics: JobMetrics) -> list[dict]:
    """The four chart cards: ``title``, ``html`` (empty when there is nothing to draw), ``summary``, ``empty_text``."""
    cards = [
        ("throughput", f"Jobs finished per {metrics.window.bucket_label}", metrics.total.finished,
         charts.throughput_chart, charts.throughput_summary, f"No job finished in the {metrics.window.label.lower()}."),
        ("duration", "Duration of succeeded jobs (p50 and p95)", any(row.durations for row in metrics.kinds),
         charts.duration_chart, charts.duration_summary, "No job succeeded in this window."),
        ("rates", "Failure and retry rates", any(row.attempts or row.ran for row in metrics.kinds),
         charts.rates_chart, charts.rates_summary, "No attempt ended in this window."),
        ("queue", "Queue depth now", metrics.total.queued,
         charts.queue_chart, charts.queue_summary, "Nothing is waiting in the queue."),
    ]
    return [
        {"id": key, "title": title, "html": draw(metrics) if has_data else "", "summary": summary(metrics),
         "empty_text": empty_text}
        for key, title, has_data, draw, summary, empty_text in cards
    ]


def job_metrics_page(request):
    """``GET /jobs/metrics/?window=1h|24h|7d`` (an unknown window falls back to 24 h)."""
    membership = membership_for(request)
    window = window_for(request.GET.get("window"))
    metrics = job_metrics(membership.organization, window)
    cards = [] if metrics.is_empty else _charts(metrics)
    return render(request, "agents/metrics.html", {
        "metrics": metrics,
        "total": metrics.total,
        "window": window,
        "windows": WINDOWS.values(),
        "membership": membership,
        "charts": cards,
        # plotly.js is loaded only when a card draws a chart.
        "draws_charts": any(card["html"] for card in cards),
    })
