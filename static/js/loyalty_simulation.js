// The simulator's chart (points by week, draft beside live rules), drawn once the result is on
// the page: at load, or when the progress bar's htmx poll swaps the finished figures in. A file
// of its own: the CSP runs no inline script without the page's nonce, and htmx swaps carry none.
(function () {
  "use strict";

  function draw() {
    var canvas = document.getElementById("sim-weeks");
    var source = document.getElementById("sim-weeks-data");
    if (!canvas || !source || !window.Chart || window.Chart.getChart(canvas)) return;
    var rows = JSON.parse(source.textContent);
    var weeks = Array.from(new Set(rows.map(function (r) { return r.week; }))).sort();
    function series(tag) {
      return weeks.map(function (w) {
        var found = rows.find(function (r) { return r.week === w && r.tag === tag; });
        return found ? found.points : 0;
      });
    }
    var labels = weeks.map(function (w) { return w.slice(8, 10) + "/" + w.slice(5, 7) + "/" + w.slice(0, 4); });
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          {label: canvas.dataset.labelDraft, data: series("draft"), backgroundColor: "#2f6fdf"},
          {label: canvas.dataset.labelLive, data: series("live"), backgroundColor: "#98a2b3"},
        ],
      },
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
})();
