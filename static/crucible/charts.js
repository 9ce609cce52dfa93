// Draws every <div class="chart" data-chart-source="ID"> from the JSON in
// <script type="application/json" id="ID"> (made with Django's json_script filter):
//   {"data": [plotly traces], "layout": {plotly layout}, "drill_down": true (optional)}
// The specs are complete (style included) and their labels escaped: see crucible/charts.py.
// Drill-down: a point whose trace carries a URL in `customdata` opens that URL when clicked (the
// rows behind the bar or point). window.CrucibleCharts.draw(root) draws the charts under `root`
// again (the live view replaces its fragment, then redraws).
// plotly.min.js comes from the pip package `plotly`, served from our own static files.
(function () {
  "use strict";
  if (!window.Plotly) { return; }

  function pointUrl(point) {
    var url = point && point.customdata;
    // Only links inside this site: a path, never a scheme (the specs are ours, but be strict).
    return (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") ? url : null;
  }

  function drawOne(el) {
    var source = document.getElementById(el.getAttribute("data-chart-source"));
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var layout = spec.layout || {};
    if (!spec.data || spec.data.length === 0) {
      if (window.Plotly.purge) { window.Plotly.purge(el); }
      el.textContent = el.getAttribute("data-empty") || "No data for this period.";
      el.classList.add("chart-empty");
      el.setAttribute("data-drawn", "empty");
      return;
    }
    el.classList.remove("chart-empty");
    if (el.getAttribute("data-drawn") === "empty") { el.textContent = ""; }
    window.Plotly.react(el, spec.data, layout, {displaylogo: false, responsive: true}).then(function () {
      el.setAttribute("data-drawn", "1");
      if (spec.drill_down && !el.hasAttribute("data-drill-down")) {
        el.setAttribute("data-drill-down", "1");
        el.classList.add("chart-drill-down");
        el.on("plotly_click", function (event) {
          var url = pointUrl(event && event.points && event.points[0]);
          if (url) { window.location.assign(url); }
        });
      }
    });
  }

  function draw(root) {
    (root || document).querySelectorAll(".chart[data-chart-source]").forEach(drawOne);
  }

  window.CrucibleCharts = {draw: draw};
  draw(document);
})();
