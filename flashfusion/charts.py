"""How a plotly figure reaches a page: an empty ``<div>`` plus the figure as JSON, drawn by our static
``flashfusion/charts.js`` once plotly.js has loaded.

plotly.js is the *basic* bundle vendored in ``static/vendor/plotly/`` (scatter, bar and pie traces:
static/vendor/README.md), loaded only by pages that show a chart, deferred, through
``templates/partials/chart_scripts.html`` in the page's ``scripts`` block. So a figure's HTML holds no
``<script>`` that runs (``include_plotlyjs=False`` and no inline ``Plotly.newPlot``, which would run
before the deferred bundle), and no page without a chart downloads plotly.js.
"""

import json

import plotly.graph_objects as go
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

#: plotly.js options: no logo, no links to plotly's cloud, resize with the card.
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}

#: The 2-D parts of plotly's "plotly_white" template: the whole template is ~6.5 KB of JSON in every
#: figure (colour scales, 3-D scenes, maps, defaults of trace types we never draw); this is ~0.5 KB.
WHITE = go.layout.Template(layout={
    "font": {"color": "#2a3f5f"},
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "hoverlabel": {"align": "left"},
    "colorway": ["#0d6efd", "#20c997", "#fd7e14", "#6f42c1", "#6c757d", "#adb5bd"],
    **{axis: {"automargin": True, "gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "ticks": "",
              "title": {"standoff": 15}, "zerolinecolor": "#EBF0F8", "zerolinewidth": 2}
       for axis in ("xaxis", "yaxis")},
})

#: ``json_script``'s escapes: the JSON cannot close its ``<script>`` element or open a comment.
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def figure_html(fig: go.Figure, div_id: str, *, height: int) -> SafeString:
    """The HTML of ``fig`` drawn into ``<div id=div_id>`` of ``height`` pixels, full width.

    The figure (data, layout, ``CONFIG``) is a ``<script type="application/json">`` that the browser
    does not run; ``charts.js`` reads it. Text in the figure (hover text, labels) is escaped for the
    ``<script>`` element here; plotly.js itself still reads a few HTML tags in hover text, so callers
    escape text that comes from outside (see ``stores.charts``).
    """
    figure = fig.to_json(pretty=False, validate=False, engine="json")
    # to_json gives {"data": …, "layout": …}: add the config without decoding the figure again.
    payload = figure[:-1] + ', "config": ' + json.dumps(CONFIG) + "}"
    return format_html(
        '<div id="{}" class="plotly-graph-div" style="height:{}px; width:100%;"></div>'
        '<script type="application/json" data-plotly-figure="{}">{}</script>',
        div_id, height, div_id, mark_safe(payload.translate(_JSON_ESCAPES)),
    )
