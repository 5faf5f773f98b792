// <button data-copy="ID">: copies the text of the element #ID to the clipboard and says so on the
// button (data-copied-label) for a moment. Without the asynchronous clipboard (plain HTTP other than
// localhost, an old browser, a refused permission) it selects the text, so Ctrl+C copies it.
// A static file, not an inline script: the Content-Security-Policy runs only our files or a nonce.
(() => {
  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try {
      return document.execCommand("copy");  // the old way, where it still works
    } catch (error) {
      return false;
    }
  }

  function say(button, label) {
    if (!label) return;
    const original = button.dataset.originalLabel || button.textContent;
    button.dataset.originalLabel = original;
    button.textContent = label;
    window.setTimeout(() => { button.textContent = original; }, 2500);
  }

  document.addEventListener("click", async (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch (error) {
        copied = false;
      }
    }
    if (!copied) copied = selectText(source);
    button.dataset.copied = copied ? "yes" : "selected";
    say(button, copied ? button.dataset.copiedLabel : button.dataset.selectedLabel);
  });
})();
