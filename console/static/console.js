// Laoke console: the drawer nav on phones, the "/" shortcut to the buyer search, and dialogs
// opened by [data-open-dialog="id"] and closed by [data-close-dialog], and polling: an element
// with data-poll-seconds="N" gets an htmx "poll" event every N seconds while the tab is
// visible (htmx's own trigger filters, "every 5s[...]", need eval, which the console's strict
// Content-Security-Policy forbids, as it forbids inline script and onclick=). Pages work
// without this file; it only adds conveniences.
(function () {
  "use strict";
  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && nav.classList.contains("open")) {
        nav.classList.remove("open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    });
  }
  document.addEventListener("click", function (e) {
    var opener = e.target.closest && e.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.openDialog);
      if (dialog && dialog.showModal) dialog.showModal();
      return;
    }
    var closer = e.target.closest && e.target.closest("[data-close-dialog]");
    if (closer && closer.closest("dialog")) closer.closest("dialog").close();
  });
  setInterval(function () {
    if (document.visibilityState !== "visible" || !window.htmx) return;
    var now = Date.now();
    document.querySelectorAll("[data-poll-seconds]").forEach(function (el) {
      var due = +el.dataset.pollDue || 0;
      if (!due) { el.dataset.pollDue = now + 1000 * el.dataset.pollSeconds; return; }
      if (now < due) return;
      el.dataset.pollDue = now + 1000 * el.dataset.pollSeconds;
      window.htmx.trigger(el, "poll");
    });
  }, 1000);
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.isComposing) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    var search = document.getElementById("buyer-search");
    if (search && search.offsetParent !== null) { e.preventDefault(); search.focus(); }
  });
})();
