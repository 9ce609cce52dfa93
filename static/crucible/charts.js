// Draws every <div class="chart" data-chart-source="ID"> from the JSON in
// <script type="application/json" id="ID"> (made with Django's json_script filter):
//   {"data": [plotly traces], "layout": {plotly layout}}
// The specs are complete (style included) and their labels escaped: see crucible/charts.py.
// plotly.min.js comes from the pip package `plotly`, served from our own static files.
(function () {
  "use strict";
  if (!window.Plotly) { return; }
  document.querySelectorAll(".chart[data-chart-source]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-chart-source"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var layout = spec.layout || {};
    if (!spec.data || spec.data.length === 0) {
      el.textContent = el.getAttribute("data-empty") || "No data for this period.";
      el.classList.add("chart-empty");
      el.setAttribute("data-drawn", "empty");
      return;
    }
    window.Plotly.newPlot(el, spec.data, layout, {displaylogo: false, responsive: true}).then(function () {
      el.setAttribute("data-drawn", "1");
    });
  });
})();
