// The journey's flow diagram (cytoscape, served locally): steps with their counts, updated every
// few seconds from the counts endpoint; the table beside it is the same figures for every reader.
(function () {
  "use strict";
  var box = document.getElementById("journey-diagram");
  var data = document.getElementById("journey-elements");
  if (!box || !data || typeof cytoscape === "undefined") return;
  var elements = JSON.parse(data.textContent);
  function label(d) {
    if (d.kind === "trigger") return d.label;
    return d.label + " (" + d.kind + ")\n" + d.waiting + " · " + d.passed + " · " + d.converted + " · " + d.exited;
  }
  elements.nodes.forEach(function (n) { n.data.display = label(n.data); });
  var cy = cytoscape({
    container: box,
    elements: elements.nodes.concat(elements.edges),
    layout: { name: "breadthfirst", directed: true, spacingFactor: 1.1 },
    style: [
      { selector: "node", style: { "label": "data(display)", "text-wrap": "wrap", "text-valign": "center",
        "shape": "round-rectangle", "width": 150, "height": 48, "font-size": 11,
        "background-color": "#eef2f7", "border-width": 1, "border-color": "#8a99ad" } },
      { selector: "node[kind = 'trigger']", style: { "background-color": "#fdf3dc", "border-color": "#b08d57" } },
      { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle", "label": "data(label)",
        "font-size": 10, "width": 1.5 } }
    ]
  });
  function refresh() {
    fetch(box.dataset.countsUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (counts) {
      cy.nodes().forEach(function (node) {
        var d = node.data();
        if (d.kind === "trigger") return;
        var c = counts[d.id] || { waiting: 0, passed: 0, converted: 0, exited: 0 };
        node.data({ waiting: c.waiting, passed: c.passed, converted: c.converted, exited: c.exited });
        node.data("display", label(node.data()));
        var row = document.querySelector('tr[data-step="' + d.id + '"]');
        if (row) ["waiting", "passed", "converted", "exited"].forEach(function (k) {
          row.querySelector('[data-count="' + k + '"]').textContent = c[k];
        });
      });
    }).catch(function () { /* the next refresh tries again */ });
  }
  setInterval(refresh, 3000);
})();
