// Draws the page's plotly figures (flashfusion/charts.py: an empty div and its figure as JSON).
// Loaded deferred right after plotly-basic.min.js (partials/chart_scripts.html), so Plotly is
// defined and the page parsed when this runs; content swapped in later by htmx is drawn on load.
(function () {
  function draw(root) {
    root.querySelectorAll("script[data-plotly-figure]").forEach(function (source) {
      var target = document.getElementById(source.dataset.plotlyFigure);
      if (!target || target.dataset.drawn) return;
      target.dataset.drawn = "1";
      var figure = JSON.parse(source.textContent);
      Plotly.newPlot(target, figure.data, figure.layout, figure.config);
    });
  }
  draw(document);
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
})();
