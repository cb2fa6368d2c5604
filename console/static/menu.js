// 自定义菜单 editor: show the fields of the chosen button type, and count each field's bytes
// against WeChat's limit. Without this file every field shows and the server checks the sizes.
(function () {
  "use strict";
  document.querySelectorAll("select[id$=_type]").forEach(function (sel) {
    var prefix = sel.id.slice(0, -5);
    function sync() {
      document.querySelectorAll('[data-of="' + prefix + '"]').forEach(function (el) {
        el.hidden = el.dataset.shows !== sel.value;
      });
    }
    sel.addEventListener("change", sync); sync();
  });
  document.querySelectorAll("[data-bytes-for]").forEach(function (out) {
    var input = document.getElementById(out.dataset.bytesFor), max = +out.dataset.max;
    function count() { var n = new TextEncoder().encode(input.value.trim()).length; out.textContent = n + "/" + max + " 字节"; out.style.color = n > max ? "#c00" : ""; }
    input.addEventListener("input", count); count();
  });
})();
