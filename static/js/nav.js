// The main menu (templates/base.html): groups are <details> disclosures, which the keyboard already
// opens (Enter/Space on the summary); this script only tidies them up. Opening a group closes the
// others, Escape closes the open one and returns focus to its summary, a click outside closes it.
// Below 700 px the "Menu" button (aria-expanded) shows or hides the whole list. A static file, so
// the Content-Security-Policy (no inline scripts) allows it.
(() => {
  const nav = document.getElementById("mainnav");
  const toggle = document.querySelector(".navtoggle");
  if (!nav) return;
  const groups = () => [...nav.querySelectorAll("details.navgroup")];

  if (toggle) {
    document.documentElement.classList.add("js-nav");
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("is-open", open);
    });
  }
  nav.addEventListener("toggle", (event) => {
    const opened = event.target;
    if (opened instanceof HTMLDetailsElement && opened.open) {
      for (const group of groups()) if (group !== opened) group.open = false;
    }
  }, true);  // "toggle" does not bubble
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = groups().find((group) => group.open);
    if (open) {
      open.open = false;
      open.querySelector("summary")?.focus();
    } else if (toggle && nav.classList.contains("is-open")) {
      toggle.setAttribute("aria-expanded", "false");
      nav.classList.remove("is-open");
      toggle.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Node) || nav.contains(event.target)) return;
    for (const group of groups()) group.open = false;
  });
})();
