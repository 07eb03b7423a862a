// signal-pipeline web app: the CSRF header on htmx requests, focus after swaps, and the insight charts.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.body.getAttribute("data-csrf");
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });
  // After a swap, move focus to the new result so keyboard and screen-reader users land on it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target.querySelector("[tabindex='-1']") || event.detail.target.querySelector("[role='status']");
    if (target) { target.focus(); }
  });

  var PALETTE = ["#0b4f8a", "#b34700", "#1d6b34", "#6a3d9a", "#a4161a", "#00727a", "#7a4d00", "#4a5360"];

  function drawCharts() {
    if (typeof Chart === "undefined") { return; }
    document.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (node) {
      var spec = JSON.parse(node.textContent);
      var canvas = document.getElementById(node.getAttribute("data-chart"));
      if (!canvas || canvas.getAttribute("data-drawn")) { return; }
      spec.datasets.forEach(function (d, i) {
        var colour = PALETTE[i % PALETTE.length];
        d.backgroundColor = colour; d.borderColor = colour;
      });
      new Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: spec.datasets },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false, indexAxis: spec.indexAxis || "x",
          plugins: { legend: { display: spec.datasets.length > 1 } },
          scales: { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked, beginAtZero: true } }
        }
      });
      canvas.setAttribute("data-drawn", "true");
    });
  }
  document.addEventListener("DOMContentLoaded", drawCharts);
  document.addEventListener("htmx:afterSettle", drawCharts);
})();
