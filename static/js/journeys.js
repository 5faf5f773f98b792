// The journeys' flow diagrams (cytoscape, served locally). Each [data-journey-diagram] box draws
// the elements of the JSON script its data-elements names: a published version with its counts,
// refreshed every few seconds from data-counts-url (the table beside it holds the same figures),
// or the draft in the editor (data-editable): a click on a node opens its form in the editor's
// panel (htmx), dragging a node saves where the nodes stand (data-positions-url). Everything done
// here can also be done from the editor's lists and forms.
(function () {
  "use strict";
  if (typeof cytoscape === "undefined") return;
  window.journeyDiagrams = {};

  function label(d) {
    if (d.kind === "trigger") return d.label;
    if (d.waiting === undefined) return d.label + " (" + d.kind + ")";
    return d.label + " (" + d.kind + ")\n" + d.waiting + " · " + d.passed + " · " + d.converted + " · " + d.exited;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function place(cy) {
    // Nodes the editor placed keep their place; the others are laid out automatically (all of
    // them when none was placed, else in a row under the placed ones).
    var placed = cy.nodes().filter(function (n) { return n.data("placed"); });
    var loose = cy.nodes().difference(placed);
    if (placed.length === 0) {
      cy.layout({ name: "breadthfirst", directed: true, spacingFactor: 1.1 }).run();
      return;
    }
    if (loose.length) {
      var box = placed.boundingBox();
      loose.forEach(function (node, i) { node.position({ x: box.x1 + 90 + i * 180, y: box.y2 + 90 }); });
    }
    cy.fit(undefined, 30);
  }

  function draw(box) {
    var data = document.getElementById(box.dataset.elements);
    if (!data) return;
    var elements = JSON.parse(data.textContent);
    var editable = box.hasAttribute("data-editable");
    elements.nodes.forEach(function (n) {
      n.data.display = label(n.data);
      n.data.placed = !!n.position;
      if (!n.position) n.position = { x: 0, y: 0 };
    });
    var cy = cytoscape({
      container: box,
      elements: elements.nodes.concat(elements.edges),
      layout: { name: "preset" },
      autoungrabify: !editable,
      style: [
        { selector: "node", style: { "label": "data(display)", "text-wrap": "wrap", "text-valign": "center",
          "shape": "round-rectangle", "width": 150, "height": 48, "font-size": 11,
          "background-color": "#eef2f7", "border-width": 1, "border-color": "#8a99ad" } },
        { selector: "node[kind = 'trigger']", style: { "background-color": "#fdf3dc", "border-color": "#b08d57" } },
        { selector: "node:selected", style: { "border-width": 3, "border-color": "#175cd3" } },
        { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle", "label": "data(label)",
          "font-size": 10, "width": 1.5 } }
      ]
    });
    place(cy);
    window.journeyDiagrams[box.id] = cy;

    if (editable) {
      cy.on("tap", "node", function (event) {
        var id = event.target.id();
        var url = id.indexOf("trigger-") === 0
          ? box.dataset.triggerUrl + id.slice("trigger-".length) + "/"
          : box.dataset.stepUrl + encodeURIComponent(id) + "/";
        if (window.htmx) window.htmx.ajax("GET", url, { target: "#journey-editor-panel" });
        else window.location.href = url;
      });
      cy.on("dragfree", "node", function () {
        var positions = {};
        cy.nodes().forEach(function (n) { positions[n.id()] = { x: Math.round(n.position("x")), y: Math.round(n.position("y")) }; });
        box.dataset.saving = "1";
        fetch(box.dataset.positionsUrl, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify(positions)
        }).then(function (r) { box.dataset.saved = r.ok ? "1" : "0"; })
          .finally(function () { delete box.dataset.saving; });
      });
    }

    if (box.dataset.countsUrl) {
      var refresh = function () {
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
      };
      setInterval(refresh, 3000);
    }
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-journey-diagram]"), draw);
  }
  // A form swapped into the editor's panel takes the focus (keyboard users land on it).
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "journey-editor-panel") {
      var first = event.target.querySelector("select, input:not([type=hidden]), textarea");
      var title = event.target.querySelector("#journey-form-title");
      (first || title || event.target).focus();
    }
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
