// Keyboard shortcuts for reviewing samples: j/k next/previous, r/a/n flag the sample
// as reflection / aha moment / not reflection. In the trace list, j/k move a selection
// and Enter opens it in the side panel.
(function () {
  "use strict";

  function typing(ev) {
    var t = ev.target;
    return t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName);
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.sample-row")); }

  function moveSelection(step) {
    var all = rows();
    if (!all.length) return false;
    var current = all.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = Math.max(0, Math.min(all.length - 1, current + step));
    if (current >= 0) all[current].classList.remove("selected");
    all[next].classList.add("selected");
    all[next].scrollIntoView({ block: "nearest" });
    return true;
  }

  function follow(rel) {
    var link = document.querySelector('a[rel="' + rel + '"]');
    if (link) window.location.href = link.href;
  }

  // The row whose sample the side panel shows is marked, across swaps of either.
  document.addEventListener("htmx:afterSwap", function (ev) {
    var shown = document.querySelector("#panel [data-sample]");
    rows().forEach(function (row) {
      var link = row.querySelector("a.open-sample");
      row.classList.toggle("open", !!(shown && link && link.textContent.trim() === shown.dataset.sample));
    });
  });

  // The side panel's Close (and a promotion's Cancel) empties it: the table widens again.
  var emptyPanel = null;
  document.addEventListener("click", function (ev) {
    var close = ev.target.closest("[data-close-panel]");
    var panel = document.getElementById("panel");
    if (!close || !panel || !emptyPanel) return;
    panel.innerHTML = emptyPanel;
    rows().forEach(function (row) { row.classList.remove("open"); });
  });
  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("panel");
    if (panel) emptyPanel = panel.innerHTML;
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev)) return;
    var key = ev.key;
    if (key === "j" || key === "k") {
      if (!moveSelection(key === "j" ? 1 : -1)) follow(key === "j" ? "next" : "prev");
    } else if (key === "Enter") {
      var selected = document.querySelector("tr.sample-row.selected");
      if (!selected) return;
      var open = selected.querySelector("a.open-sample"); // into the side panel
      if (open) open.click(); else window.location.href = selected.dataset.href;
    } else if (key === "r" || key === "a" || key === "n") {
      var button = document.querySelector('#flags button[data-key="' + key + '"]');
      if (button) button.click();
    }
  });
})();
