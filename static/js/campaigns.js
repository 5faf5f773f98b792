// Campaign pages' small behaviours, as data attributes (the Content-Security-Policy allows
// scripts only from our static files).
//   On the affiliate list (/affiliates/): remembers its current filter (the query string, which
//   the list keeps in the address as you filter) for "use the current filter of the list".
//   <a data-use-list-filter="#input">   fills the input with the remembered filter (or follows
//                                       the link to the list when there is none yet)
//   <canvas data-chart-source="ID">     draws the funnel bar chart from the JSON script #ID
//                                       (Chart.js, vendored in static/vendor/chartjs)
(() => {
  const KEY = "udn-crm:affiliate-list-filter:" + location.host;
  const remember = () => {
    if (location.pathname === "/affiliates/") {
      const params = new URLSearchParams(location.search);
      params.delete("page");
      params.delete("sort");
      try { localStorage.setItem(KEY, params.toString()); } catch (e) { /* storage off: no memory */ }
    }
  };
  remember();
  document.addEventListener("htmx:pushedIntoHistory", remember);
  document.addEventListener("htmx:replacedInHistory", remember);

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element && event.target.closest("[data-use-list-filter]");
    if (!link) return;
    let saved = null;
    try { saved = localStorage.getItem(KEY); } catch (e) { saved = null; }
    if (saved === null) return;  // nothing remembered: the link opens the list
    event.preventDefault();
    const input = document.querySelector(link.dataset.useListFilter);
    if (input instanceof HTMLInputElement) {
      input.value = saved;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  const drawCharts = () => {
    if (!window.Chart) return;
    const colours = { sent: "#98a2b3", delivered: "#2e90fa", read: "#0b6e4f", clicked: "#f79009", failed: "#d92d20" };
    document.querySelectorAll("canvas[data-chart-source]").forEach((canvas) => {
      const source = document.getElementById(canvas.dataset.chartSource);
      if (!source || canvas.dataset.drawn) return;
      const data = JSON.parse(source.textContent);
      canvas.dataset.drawn = "1";
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.steps.map((step) => ({ label: step.label, data: step.values, backgroundColor: colours[step.key] })),
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
          locale: document.documentElement.lang || "pt-BR",
        },
      });
    });
  };
  // After every deferred script ran (Chart.js is one, loaded by the page after this one).
  if (document.readyState === "complete") drawCharts();
  else document.addEventListener("DOMContentLoaded", drawCharts);
})();
