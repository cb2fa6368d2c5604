// 收件箱: live updates (server-sent events), Enter to send, "/" quick replies, E = 标为已处理.
// The page works without this file (forms post and redirect); it only adds conveniences.
(function () {
  "use strict";
  var root = document.querySelector(".inbox");
  if (!root) return;
  var PLACEHOLDER = /\{(称呼|等级)\}/;

  function currentId() {
    return root.getAttribute("data-conversation") || "";
  }

  function partialUrl(name) {
    var url = new URL(window.location.href);
    url.searchParams.set("partial", name);
    var id = currentId();
    if (id) { url.searchParams.set("c", id); url.searchParams.delete("buyer"); }
    return url.toString();
  }

  function fetchPartial(name) {
    return fetch(partialUrl(name), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; });
  }

  function scrollThread() {
    var list = document.getElementById("messages");
    if (list) list.scrollTop = list.scrollHeight;
  }

  function refresh(changed) {
    fetchPartial("list").then(function (html) {
      if (html !== null) document.getElementById("inbox-list").innerHTML = html;
    });
    var id = currentId();
    if (!id || changed.indexOf(Number(id)) < 0) return;
    var box = document.getElementById("reply-text");
    var draft = box ? box.value : "";
    var focused = box && document.activeElement === box;
    fetchPartial("thread").then(function (html) {
      if (html === null) return;
      document.getElementById("inbox-thread").innerHTML = html;
      var again = document.getElementById("reply-text");
      if (again && draft) again.value = draft;
      if (again && focused) again.focus();
      scrollThread();
    });
  }

  if (window.EventSource) {
    var source = new EventSource(root.getAttribute("data-events"));
    source.addEventListener("change", function (e) {
      var ids = [];
      try { ids = JSON.parse(e.data); } catch (err) { ids = []; }
      refresh(ids);
    });
  }

  function blockedByPlaceholder(form) {
    var box = form.querySelector("#reply-text");
    var image = form.querySelector("#reply-image");
    if (!box || (image && image.files && image.files.length)) return false;
    var warn = document.getElementById("placeholder-warning");
    var blocked = PLACEHOLDER.test(box.value);
    if (warn) warn.hidden = !blocked;
    return blocked;
  }

  document.addEventListener("submit", function (e) {
    if (e.target.id === "composer" && blockedByPlaceholder(e.target)) e.preventDefault();
  });

  function openQuick(open) {
    var quick = document.getElementById("quick");
    if (!quick) return;
    quick.hidden = !open;
    if (open) { var q = document.getElementById("quick-q"); q.value = ""; filterQuick(""); q.focus(); }
  }

  function filterQuick(text) {
    var items = document.querySelectorAll("#quick-list li");
    for (var i = 0; i < items.length; i++) {
      items[i].hidden = text !== "" && items[i].textContent.indexOf(text) < 0;
    }
  }

  document.addEventListener("input", function (e) {
    if (e.target.id === "quick-q") filterQuick(e.target.value.trim());
    if (e.target.id === "reply-text") {
      var warn = document.getElementById("placeholder-warning");
      if (warn && !warn.hidden) warn.hidden = !PLACEHOLDER.test(e.target.value);
    }
  });

  document.addEventListener("change", function (e) {
    if (e.target.id === "reply-image") {
      var name = document.getElementById("image-name");
      if (name) name.textContent = e.target.files.length ? e.target.files[0].name : "";
    }
  });

  document.addEventListener("click", function (e) {
    var pick = e.target.closest && e.target.closest("#quick-list button");
    if (!pick) return;
    var box = document.getElementById("reply-text");
    box.value = pick.getAttribute("data-body");
    openQuick(false);
    box.focus();
    blockedByPlaceholder(box.form);
  });

  document.addEventListener("keydown", function (e) {
    if (e.isComposing || e.keyCode === 229) return; // never while an IME is composing
    var t = e.target;
    if (t.id === "reply-text") {
      if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        if (!blockedByPlaceholder(t.form) && (t.value.trim() || t.form.querySelector("#reply-image").files.length)) {
          t.form.requestSubmit();
        }
      } else if (e.key === "/" && t.value === "") {
        e.preventDefault();
        openQuick(true);
      }
      return;
    }
    if (t.id === "quick-q" && e.key === "Escape") { openQuick(false); document.getElementById("reply-text").focus(); return; }
    var typing = t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable;
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "e" || e.key === "E") {
      var done = document.getElementById("mark-done");
      if (done) { e.preventDefault(); done.requestSubmit(); }
    }
  });

  scrollThread();
})();
