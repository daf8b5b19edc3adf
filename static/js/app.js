// Tech_ticket: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Forms marked data-autosubmit submit themselves when a select changes
  // (the language switcher); without JavaScript they keep their submit button.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  });
})();
