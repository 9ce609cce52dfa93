// The live view (/observability/live/): every data-refresh-seconds, fetch the page's fragment
// (data-live-url: the same query with fragment=1), put it in place of the old one and draw its
// charts (window.CrucibleCharts from charts.js). No inline script: the CSP stays strict. A failed
// fetch keeps the figures shown and tries again at the next tick; a hidden tab does not fetch.
(function () {
  "use strict";
  var box = document.getElementById("live-fragment");
  if (!box || !window.fetch) { return; }
  var seconds = parseInt(box.getAttribute("data-refresh-seconds"), 10) || 15;
  var url = box.getAttribute("data-live-url");
  var busy = false;

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    window.fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        box.replaceChildren.apply(box, Array.prototype.slice.call(next.body.childNodes));
        box.setAttribute("data-refreshed", String(Date.now()));
        if (window.CrucibleCharts) { window.CrucibleCharts.draw(box); }
      })
      .catch(function () { box.setAttribute("data-refresh-failed", String(Date.now())); })
      .then(function () { busy = false; });
  }

  window.setInterval(refresh, seconds * 1000);
})();
