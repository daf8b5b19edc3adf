// Tech_ticket: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Forms marked data-autosubmit submit themselves when a select changes (the language
  // switcher); without JavaScript they keep their submit button.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });

  // Destructive forms ask first (data-confirm holds the question, already translated).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });

  // Only one action panel open at a time; the first field of an opened one gets the focus.
  var panels = document.querySelectorAll("details.action-details");
  panels.forEach(function (panel) {
    panel.addEventListener("toggle", function () {
      if (!panel.open) {
        return;
      }
      panels.forEach(function (other) {
        if (other !== panel) {
          other.open = false;
        }
      });
      var field = panel.querySelector("select, textarea, input:not([type=hidden])");
      if (field) {
        field.focus();
      }
    });
  });

  // File inputs say how many files were chosen (the browser's own text is often cut off on
  // a phone).
  document.querySelectorAll("input[type=file][multiple]").forEach(function (input) {
    var note = document.createElement("div");
    note.className = "form-text file-count";
    note.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", note);
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files, function (file) {
        return file.name;
      });
      note.textContent = names.join(", ");
    });
  });
})();
