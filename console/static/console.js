// Laoke console: the drawer nav on phones and the "/" shortcut to the buyer search.
// Pages work without this file; it only adds conveniences.
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
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.isComposing) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    var search = document.getElementById("buyer-search");
    if (search && search.offsetParent !== null) { e.preventDefault(); search.focus(); }
  });
})();
