// Campaign pages: kind switch, variable chips, dialogs, the funnel chart, and a local copy
// of an unsaved new campaign. The pages work without this file.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  function showKind() {
    var kind = form.querySelector("input[name=kind]:checked");
    form.querySelectorAll(".for-kind").forEach(function (s) {
      s.hidden = kind && s.getAttribute("data-kind") !== kind.value;
    });
  }
  if (form) {
    form.addEventListener("change", function (e) { if (e.target.name === "kind") showKind(); });
    showKind();
    var source = document.getElementById("message_source");
    document.querySelectorAll("[data-insert]").forEach(function (chip) {
      chip.addEventListener("click", function () {
        var text = chip.getAttribute("data-insert"), at = source.selectionStart || source.value.length;
        source.value = source.value.slice(0, at) + text + source.value.slice(source.selectionEnd || at);
        form.querySelector("input[name=message_mode][value=source]").checked = true;
        source.focus();
        source.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
    // A new campaign is not on the server until its first valid save: keep a local copy.
    var key = "laoke-" + form.getAttribute("data-draft-key");
    if (key === "laoke-campaign-new") {
      var saved = null;
      try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { saved = null; }
      var untouched = !form.querySelector("input[name=name]").value;
      if (saved && untouched) {
        Object.keys(saved).forEach(function (name) {
          var el = form.elements[name];
          if (!el || name === "csrf_token") return;
          if (el.type === "checkbox") el.checked = saved[name]; else if (el.length && !el.tagName) {
            Array.prototype.forEach.call(el, function (r) { r.checked = r.value === saved[name]; });
          } else el.value = saved[name];
        });
        showKind();
      }
      form.addEventListener("input", function () {
        var data = {};
        Array.prototype.forEach.call(form.elements, function (el) {
          if (!el.name || el.name === "csrf_token") return;
          if (el.type === "checkbox") data[el.name] = el.checked;
          else if (el.type === "radio") { if (el.checked) data[el.name] = el.value; }
          else data[el.name] = el.value;
        });
        localStorage.setItem(key, JSON.stringify(data));
      });
    } else {
      localStorage.removeItem("laoke-campaign-new");
    }
  }
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open"));
      if (dialog && dialog.showModal) { dialog.showModal(); }
    }
    var closer = e.target.closest("[data-close]");
    if (closer) { closer.closest("dialog").close(); }
  });
  document.querySelectorAll("[data-must-equal]").forEach(function (input) {
    var button = input.form.querySelector("[data-guarded]");
    function check() { button.disabled = input.value.trim() !== input.getAttribute("data-must-equal"); }
    input.addEventListener("input", check);
    check();
  });
  function drawFunnel() {
    var el = document.getElementById("funnel-chart"), data = document.getElementById("funnel-data");
    if (!el || !data || !window.echarts) return;
    var reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el);
    chart.setOption({
      aria: { enabled: true, decal: { show: true } },
      animation: !reduced,
      tooltip: { trigger: "item" },
      series: [{ type: "funnel", sort: "none", minSize: "10%", label: { formatter: "{b}：{c}" },
                 data: JSON.parse(data.textContent).funnel }]
    });
  }
  window.addEventListener("load", drawFunnel);
  document.body.addEventListener("htmx:afterSwap", drawFunnel);
})();
