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

  // Text is never drawn smaller than MIN_FONT px: the diagram zooms out no further than that
  // (a long journey scrolls instead of shrinking to unreadable labels).
  var NODE_FONT = 12, MIN_FONT = 10, MIN_ZOOM = MIN_FONT / NODE_FONT;

  function label(d) {
    // The step's id and its kind's label (the selector's pt-BR), then, for a published version
    // only (a draft's nodes carry no counts), waiting · passed · converted · exited.
    if (d.kind === "trigger") return d.label;
    var text = d.label + " (" + (d.kind_label || d.kind) + ")";
    if (d.waiting === undefined) return text;
    return text + "\n" + d.waiting + " · " + d.passed + " · " + d.converted + " · " + d.exited;
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
    } else if (loose.length) {
      var box = placed.boundingBox();
      loose.forEach(function (node, i) { node.position({ x: box.x1 + 90 + i * 180, y: box.y2 + 90 }); });
    }
    fitReadable(cy);
  }

  function fitReadable(cy) {
    // Fit the diagram; when that would shrink it below MIN_ZOOM, the box grows taller (up to
    // 1600px) so it still shows everything at a readable size (what's wider can be panned).
    cy.fit(undefined, 30);
    if (cy.zoom() > MIN_ZOOM + 0.001) return;
    var container = cy.container();
    var needed = Math.ceil(cy.elements().boundingBox().h * MIN_ZOOM + 60);
    if (needed > container.clientHeight) {
      container.style.height = Math.min(needed, 1600) + "px";
      cy.resize();
      cy.fit(undefined, 30);
    }
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
      minZoom: MIN_ZOOM,
      autoungrabify: !editable,
      style: [
        { selector: "node", style: { "label": "data(display)", "text-wrap": "wrap", "text-valign": "center",
          "shape": "round-rectangle", "width": 170, "height": 52, "font-size": NODE_FONT,
          "background-color": "#eef2f7", "border-width": 1, "border-color": "#8a99ad" } },
        { selector: "node[kind = 'trigger']", style: { "background-color": "#fdf3dc", "border-color": "#b08d57" } },
        { selector: "node:selected", style: { "border-width": 3, "border-color": "#175cd3" } },
        { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle", "label": "data(label)",
          "font-size": NODE_FONT, "text-background-color": "#ffffff", "text-background-opacity": 1, "width": 1.5 } }
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
            if (d.kind === "trigger" || d.waiting === undefined) return;
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
