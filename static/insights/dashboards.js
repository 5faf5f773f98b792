// The dashboards' charts (Chart.js, served from static/vendor/chartjs): each <canvas data-chart>
// carries its data as JSON; numbers and axes in pt-BR. No inline script (CSP).
(function () {
  "use strict";
  var number = new Intl.NumberFormat("pt-BR", { maximumFractionDigits: 2 });
  var palette = ["#1f6f8b", "#e07a5f", "#81b29a", "#f2cc8f", "#6d597a", "#3d405b"];

  function suffix(kind) {
    if (kind === "share") return "%";
    if (kind === "duration" || kind === "upto") return " h";
    if (kind === "money") return "";
    return "";
  }

  function draw(canvas) {
    var config = JSON.parse(canvas.getAttribute("data-chart"));
    var kind = config.datasets.length ? config.datasets[0].kind : "int";
    var datasets = config.datasets.map(function (set, i) {
      return {
        label: set.label + (suffix(set.kind) ? " (" + suffix(set.kind).trim() + ")" : ""),
        data: set.data,
        backgroundColor: palette[i % palette.length],
        borderColor: palette[i % palette.length],
        spanGaps: true,
      };
    });
    new window.Chart(canvas, {
      type: config.type,
      data: { labels: config.labels, datasets: datasets },
      options: {
        locale: "pt-BR",
        animation: false,
        maintainAspectRatio: false,
        scales: {
          y: {
            beginAtZero: true,
            ticks: {
              callback: function (value) {
                if (kind === "money") return "R$ " + number.format(value);
                return number.format(value) + suffix(kind);
              },
            },
          },
        },
      },
    });
  }

  function init() {
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
    document.querySelectorAll("select[data-navigate]").forEach(function (select) {
      select.addEventListener("change", function () {
        window.location.href = select.value;
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
