// 话术模板: variable chips insert at the cursor, F9 previews the unsaved text, Ctrl+S saves a
// draft, and consequential buttons (data-confirm) ask in a <dialog> first. Without this file
// the page still works: forms post directly.
(function () {
  "use strict";
  var source = document.getElementById("source");
  document.querySelectorAll(".chip[data-insert]").forEach(function (chip) {
    chip.addEventListener("click", function () {
      if (!source || source.readOnly) return;
      var text = chip.getAttribute("data-insert");
      var start = source.selectionStart, end = source.selectionEnd;
      source.setRangeText(text, start, end, "end");
      source.focus();
      source.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.isComposing) return;
    if (e.key === "F9") {
      var btn = document.getElementById("preview-btn");
      if (btn) { e.preventDefault(); btn.click(); }
    } else if ((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "S")) {
      var save = document.getElementById("save-draft");
      if (save) { e.preventDefault(); save.click(); }
    }
  });
  var dialog = document.getElementById("confirm");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var pending = null;
  document.querySelectorAll("button[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (e) {
      e.preventDefault();
      pending = button;
      document.getElementById("confirm-text").textContent = button.getAttribute("data-confirm");
      document.getElementById("confirm-yes").textContent = button.getAttribute("data-verb") || button.textContent;
      dialog.showModal();
    });
  });
  document.getElementById("confirm-no").addEventListener("click", function () { dialog.close(); pending = null; });
  document.getElementById("confirm-yes").addEventListener("click", function () {
    if (!pending) return;
    var form = pending.form;
    if (pending.name) {
      var hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = pending.name; hidden.value = pending.value;
      form.appendChild(hidden);
    }
    dialog.close();
    form.submit();
  });
})();
