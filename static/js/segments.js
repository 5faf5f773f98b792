// The segment builder (crm/templates/crm/segment_builder.html): edits the tree of conditions held
// in the hidden #segment-definition (the JSON schema of crm/segmentation.py) and fires
// "segment-changed" on the form after each edit; htmx debounces it (400 ms) into the live count.
// Labels come from the page (#segment-vocabulary, pt-BR); no inline script (CSP).
(() => {
  const vocabularyNode = document.getElementById("segment-vocabulary");
  const root = document.getElementById("segment-tree");
  const hidden = document.getElementById("segment-definition");
  const form = document.getElementById("segment-form");
  if (!vocabularyNode || !root || !(hidden instanceof HTMLInputElement) || !form) return;
  const V = JSON.parse(vocabularyNode.textContent || "{}");
  const L = V.labels;
  const readonly = root.hasAttribute("data-readonly");

  // The editor's model: groups {kind: "group", op, conditions, negate} and leaves {kind, ..., negate};
  // the stored form wraps a negated node in {kind: "not", condition}.
  const load = (node) => {
    if (!node || typeof node !== "object") return null;
    if (node.kind === "not") {
      const inner = load(node.condition);
      if (inner) inner.negate = !inner.negate;
      return inner;
    }
    if (node.kind === "group") {
      return { kind: "group", op: node.op || "and", conditions: (node.conditions || []).map(load).filter(Boolean), negate: false };
    }
    return { ...node, negate: false };
  };
  const dump = (node) => {
    let out;
    if (node.kind === "group") {
      out = { kind: "group", op: node.op, conditions: node.conditions.map(dump) };
    } else {
      out = { ...node };
      delete out.negate;
    }
    return node.negate ? { kind: "not", condition: out } : out;
  };

  let tree;
  try {
    tree = load(JSON.parse(hidden.value).root);
  } catch (error) {
    tree = null;
  }
  if (!tree || tree.kind !== "group") tree = { kind: "group", op: "and", conditions: tree ? [tree] : [], negate: false };

  const changed = () => {
    hidden.value = JSON.stringify({ version: 1, root: dump(tree) });
    form.dispatchEvent(new CustomEvent("segment-changed", { bubbles: true }));
  };

  const el = (tag, attrs = {}, children = []) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (key === "text") node.textContent = value;
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child) node.append(child);
    if (readonly && ["INPUT", "SELECT", "BUTTON"].includes(node.tagName)) node.disabled = true;
    return node;
  };
  const select = (options, value, onChange, attrs = {}) => {
    const node = el("select", attrs);
    for (const option of options) {
      const item = el("option", { value: option.value, text: option.label });
      if (attrs.multiple ? (value || []).includes(option.value) : String(value ?? "") === option.value) item.selected = true;
      node.append(item);
    }
    node.addEventListener("change", () => {
      onChange(attrs.multiple ? Array.from(node.selectedOptions, (o) => o.value) : node.value);
    });
    return node;
  };
  const input = (value, onInput, attrs = {}) => {
    const node = el("input", { type: "text", ...attrs });
    node.value = value ?? "";
    node.addEventListener("input", () => onInput(node.value));
    return node;
  };
  const list = (text) => text.split(",").map((item) => item.trim()).filter(Boolean);
  const number = (text) => (text.trim() === "" ? null : Number(text.replace(",", ".")));

  // A new leaf of each kind, with sensible first choices.
  const fresh = (kind) => {
    const firstEvent = (V.event_types[0] || {}).value;
    switch (kind) {
      case "field": return { kind, field: "city", operator: "eq", value: "" };
      case "consent": return { kind, channel: V.channels[0].value, value: true };
      case "stage": return { kind, operator: "reached", value: V.stages[0].value };
      case "tier": return { kind, operator: "in", value: [] };
      case "tags": return { kind, operator: "any", value: [] };
      case "attribute": return { kind, key: "", operator: "eq", value: "" };
      case "event": return { kind, type: "cash_in", measure: "count", operator: "gte", value: 1, within_days: null };
      case "sequence": return { kind, type: "app_downloaded", then: "app_activated", within_hours: 24, followed: false };
      case "segment": return { kind, segment_id: V.segments.length ? Number(V.segments[0].value) : null };
      default: return { kind: "field", field: "city", operator: "eq", value: "", type: firstEvent };
    }
  };

  const leafControls = (node, redraw) => {
    const set = (key, parse = (v) => v) => (value) => { node[key] = parse(value); changed(); };
    const setAndRedraw = (key, parse = (v) => v) => (value) => { node[key] = parse(value); changed(); redraw(); };
    switch (node.kind) {
      case "field": {
        const field = V.fields.find((f) => f.value === node.field) || V.fields[0];
        const operators = field.type === "text" ? V.operators.text : V.operators.order;
        const parts = [
          select(V.fields.map((f) => ({ value: f.value, label: f.label })), node.field, setAndRedraw("field"), { "aria-label": L.value }),
          select(operators, node.operator, setAndRedraw("operator"), { "data-role": "operator" }),
        ];
        if (!["blank", "present"].includes(node.operator)) {
          const multi = ["in", "not_in"].includes(node.operator);
          const shown = multi && Array.isArray(node.value) ? node.value.join(", ") : node.value;
          const type = field.type === "date" ? "date" : "text";
          parts.push(input(shown, set("value", (v) => (multi ? list(v) : v)), { type, "aria-label": L.value, "data-role": "value" }));
        }
        return parts;
      }
      case "consent":
        return [
          select(V.channels, node.channel, set("channel")),
          select([{ value: "true", label: L.yes }, { value: "false", label: L.no }], String(node.value), set("value", (v) => v === "true")),
        ];
      case "stage": {
        const multi = node.operator !== "reached";
        const value = multi ? (Array.isArray(node.value) ? node.value : [node.value]) : (Array.isArray(node.value) ? node.value[0] : node.value);
        return [
          select(V.operators.stage, node.operator, (op) => {
            node.operator = op;
            node.value = op === "reached" ? (Array.isArray(node.value) ? node.value[0] || V.stages[0].value : node.value) : [].concat(node.value);
            changed();
            redraw();
          }),
          select(V.stages, value, set("value"), multi ? { multiple: true, size: 3 } : {}),
        ];
      }
      case "tier":
        return [select(V.operators.tier, node.operator, set("operator")), select(V.tiers, node.value, set("value"), { multiple: true, size: 3 })];
      case "tags":
        return [select(V.operators.tags, node.operator, set("operator")), input((node.value || []).join(", "), set("value", list), { "aria-label": L.value })];
      case "attribute": {
        const parts = [
          input(node.key, set("key"), { placeholder: L.key, "aria-label": L.key }),
          select(V.operators.attribute, node.operator, setAndRedraw("operator")),
        ];
        if (!["blank", "present"].includes(node.operator)) parts.push(input(node.value, set("value"), { "aria-label": L.value }));
        return parts;
      }
      case "event":
        return [
          select(V.event_types, node.type, set("type")),
          select(V.measures, node.measure, set("measure")),
          select(V.operators.event, node.operator, set("operator")),
          input(node.value, set("value", (v) => v.trim()), { inputmode: "decimal", size: 6, "aria-label": L.value, "data-role": "value" }),
          input(node.within_days ?? "", set("within_days", number), { inputmode: "numeric", size: 4, placeholder: L.within_days, title: L.within_days, "aria-label": L.within_days, "data-role": "within-days" }),
        ];
      case "sequence":
        return [
          select(V.event_types, node.type, set("type")),
          select([{ value: "false", label: L.not_followed }, { value: "true", label: L.followed }], String(Boolean(node.followed)), set("followed", (v) => v === "true")),
          select(V.event_types, node.then, set("then")),
          input(node.within_hours ?? "", set("within_hours", number), { inputmode: "numeric", size: 4, title: L.within_hours, placeholder: L.within_hours, "aria-label": L.within_hours }),
        ];
      case "segment":
        return [select(V.segments, node.segment_id == null ? "" : String(node.segment_id), set("segment_id", Number))];
      default:
        return [];
    }
  };

  const negateToggle = (node) => {
    const box = el("input", { type: "checkbox", "data-role": "negate" });
    box.checked = Boolean(node.negate);
    box.addEventListener("change", () => { node.negate = box.checked; changed(); });
    return el("label", { class: "segment-negate" }, [box, document.createTextNode(` ${L.negate}`)]);
  };

  const drawGroup = (group, parent, depth) => {
    const box = el("div", { class: "segment-group", "data-testid": "segment-group", "data-depth": String(depth) });
    const head = el("div", { class: "segment-group-head" }, [
      depth ? negateToggle(group) : null,
      el("span", { text: depth ? "" : L.match }),
      select([{ value: "and", label: L.all }, { value: "or", label: L.any }], group.op, (op) => { group.op = op; changed(); }, { "data-role": "group-op" }),
    ]);
    if (parent && !readonly) {
      const remove = el("button", { type: "button", class: "linklike", text: L.remove, "data-role": "remove-group" });
      remove.addEventListener("click", () => { parent.conditions.splice(parent.conditions.indexOf(group), 1); changed(); draw(); });
      head.append(remove);
    }
    box.append(head);
    const items = el("ul", { class: "segment-conditions" });
    if (!group.conditions.length) items.append(el("li", { class: "muted", text: L.empty }));
    for (const child of group.conditions) {
      if (child.kind === "group") {
        items.append(el("li", {}, [drawGroup(child, group, depth + 1)]));
        continue;
      }
      const row = el("li", { class: "segment-condition", "data-testid": "segment-condition" });
      const redraw = () => draw();
      const kind = select(V.kinds, child.kind, (value) => {
        group.conditions[group.conditions.indexOf(child)] = fresh(value);
        changed();
        draw();
      }, { "data-role": "kind" });
      row.append(negateToggle(child), kind, ...leafControls(child, redraw));
      if (!readonly) {
        const remove = el("button", { type: "button", class: "linklike", text: L.remove, "data-role": "remove" });
        remove.addEventListener("click", () => { group.conditions.splice(group.conditions.indexOf(child), 1); changed(); draw(); });
        row.append(remove);
      }
      items.append(row);
    }
    box.append(items);
    if (!readonly) {
      const addCondition = el("button", { type: "button", class: "button", text: `+ ${L.add_condition}`, "data-role": "add-condition" });
      addCondition.addEventListener("click", () => { group.conditions.push(fresh("field")); changed(); draw(); });
      const addGroup = el("button", { type: "button", class: "button", text: `+ ${L.add_group}`, "data-role": "add-group" });
      addGroup.addEventListener("click", () => {
        group.conditions.push({ kind: "group", op: "or", conditions: [fresh("field")], negate: false });
        changed();
        draw();
      });
      box.append(el("div", { class: "segment-actions" }, [addCondition, depth < 4 ? addGroup : null]));
    }
    return box;
  };

  const draw = () => {
    root.replaceChildren(drawGroup(tree, null, 0));
  };
  draw();
  // The first count as the page opens (an existing segment, or a form sent back with errors): once
  // htmx listens for "segment-changed". This deferred script runs before DOMContentLoaded, when htmx
  // processes the page (then it fires htmx:load on the body); fired now, the event would be lost and
  // the count would never come.
  const firstCount = () => {
    if (tree.conditions.length) changed();
  };
  if (document.readyState === "complete") firstCount();
  else document.addEventListener("htmx:load", firstCount, { once: true });
})();
