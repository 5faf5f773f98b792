// The template editor: a click on a variable inserts "{{ name }}" where the person was typing (the
// last focused field that takes variables), then announces the change so the preview follows.
// A static file, since the Content-Security-Policy refuses inline scripts.
let lastField = null;
document.addEventListener("focusin", (event) => {
  const field = event.target;
  if (field instanceof HTMLElement && field.matches("[data-variables-target]")) {
    lastField = field;
  }
});
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-insert-variable]") : null;
  if (!button) return;
  event.preventDefault();
  const field = lastField || document.querySelector("[data-variables-target]:not([readonly])");
  if (!(field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) || field.readOnly) return;
  const text = `{{ ${button.dataset.insertVariable} }}`;
  const start = field.selectionStart ?? field.value.length;
  const end = field.selectionEnd ?? field.value.length;
  field.setRangeText(text, start, end, "end");
  field.focus();
  field.dispatchEvent(new Event("input", { bubbles: true }));
});
