"""Charts (flashfusion.charts): which pages load plotly.js, which bundle, and what a figure's HTML holds."""

import json
import re
from datetime import timedelta

import plotly.graph_objects as go
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from agents.models import Job
from stores.models import HealthCheck, Store

BASIC = "/static/vendor/plotly/plotly-basic.min.js"
SCRIPT = re.compile(r"<script\b([^>]*)>", re.S)


def scripts(html: str) -> list[tuple[str, bool, bool]]:
    """(src, deferred, in <head>) of every external script of a page, in order."""
    head_end = html.index("</head>")
    found = []
    for match in SCRIPT.finditer(html):
        src = re.search(r'src="([^"]+)"', match.group(1))
        if src:
            found.append((src.group(1), " defer" in match.group(1), match.start() < head_end))
    return found


@pytest.fixture
def store(org):
    return Store.objects.create(organization=org, name="Northwind Outlet", base_url="http://127.0.0.1:9",
                                consumer_key="ck_x", consumer_secret="cs_x")


@pytest.fixture
def checked_store(store):
    for minutes in (90, 60, 30):
        check = HealthCheck.objects.create(store=store, ok=True, health="healthy", latency=0.05)
        HealthCheck.objects.filter(pk=check.pk).update(checked_at=timezone.now() - timedelta(minutes=minutes))
    return store


@pytest.fixture
def finished_job(org):
    now = timezone.now()
    return Job.objects.create(organization=org, kind="store.publish", status="succeeded", attempts=1,
                              started_at=now - timedelta(minutes=5), finished_at=now - timedelta(minutes=4))


def test_pages_without_a_chart_load_no_plotly(client, viewer, store, finished_job):
    client.force_login(viewer)
    pages = [reverse("dashboard:index"), reverse("agents:job_list"), reverse("agents:dead_letters"),
             reverse("products:list"), reverse("stores:list"), reverse("stores:listings"),
             reverse("stores:detail", args=[store.pk])]  # a store without health checks has no chart
    for url in pages:
        html = client.get(url).content.decode()
        assert [src for src, _, _ in scripts(html) if "plotly" in src or "charts.js" in src] == [], url


def test_chart_pages_load_the_basic_bundle_deferred_from_the_head(client, viewer, checked_store, finished_job):
    client.force_login(viewer)
    for url, chart in ((reverse("stores:detail", args=[checked_store.pk]), "latency-chart"),
                       (reverse("job_metrics:index"), "throughput-chart")):
        html = client.get(url).content.decode()
        loaded = scripts(html)
        plotly = [entry for entry in loaded if "plotly" in entry[0]]
        assert plotly == [(BASIC, True, True)], url  # the basic bundle only, deferred, in <head>
        srcs = [src for src, _, _ in loaded]
        assert srcs.index(BASIC) + 1 == srcs.index("/static/flashfusion/charts.js"), url  # drawn after it loads
        # Nothing inline calls plotly before the deferred bundle has run: the figure is data for charts.js.
        assert "Plotly.newPlot" not in html and f'data-plotly-figure="{chart}"' in html, url


def test_the_vendored_bundle_is_the_plotly_js_the_python_package_writes_for():
    from plotly.offline import get_plotlyjs_version

    path = finders.find("vendor/plotly/plotly-basic.min.js")
    with open(path, encoding="utf-8") as handle:
        header = handle.read(200)
    assert f"plotly.js (basic - minified) v{get_plotlyjs_version()}" in header
    assert finders.find("plotly/plotly.min.js") is None  # the 4.8 MB full bundle is not served
    assert (settings.BASE_DIR / "static" / "vendor" / "plotly" / "LICENSE").exists()


def test_a_figure_is_json_that_cannot_leave_its_script_element():
    from flashfusion.charts import figure_html

    hostile = "</script><script>alert(1)</script><!--"
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name=hostile, hovertemplate=hostile))
    html = figure_html(fig, "test-chart", height=200)
    assert html.count("</script>") == 1 and "<script>" not in html and "<!--" not in html
    source = re.search(r'<script type="application/json" data-plotly-figure="test-chart">(.*)</script>', html, re.S)
    figure = json.loads(source.group(1))
    assert figure["data"][0]["name"] == hostile
    assert figure["config"]["displaylogo"] is False
    assert '<div id="test-chart" class="plotly-graph-div" style="height:200px; width:100%;"></div>' in html


def test_a_chart_carries_a_small_template():
    """plotly_white is ~6.5 KB of JSON in every figure (3-D scenes, maps, colour scales); ours keeps its 2-D look."""
    from flashfusion.charts import WHITE
    from stores.charts import latency_chart

    now = timezone.now()
    checks = [HealthCheck(ok=True, health="healthy", latency=0.05, checked_at=now - timedelta(minutes=m)) for m in (20, 10)]
    html = latency_chart(checks, start=now - timedelta(hours=24), end=now)
    assert len(html) < 3500
    white = go.layout.Template(WHITE).layout
    assert white.plot_bgcolor == "white" and white.xaxis.gridcolor == "#EBF0F8"
