// Small form behaviours as data attributes, so no template needs an inline event handler
// (the Content-Security-Policy allows scripts only from our static files or with a nonce).
//   <select data-autosubmit>            submits its form when changed
//   <form data-confirm="Question?">     asks before submitting
//   <select data-reveals="ID" data-reveals-when="value">
//                                       shows (and enables) the field #ID only while that value is chosen
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLElement && field.matches("[data-autosubmit]") && field.form) {
    field.form.requestSubmit();
  }
  if (field instanceof HTMLSelectElement && field.dataset.reveals) {
    const target = document.getElementById(field.dataset.reveals);
    if (target instanceof HTMLInputElement) {
      const shown = field.value === field.dataset.revealsWhen;
      target.hidden = !shown;
      target.disabled = !shown;  // a hidden field is not sent
    }
  }
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
