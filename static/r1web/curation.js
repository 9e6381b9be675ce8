// Keyboard shortcuts for the curation queue. Buttons carry data-shortcut="<key>";
// the listener sits on the document so it survives htmx swaps of the item.
(function () {
  "use strict";
  function typing(target) {
    return target.closest("textarea, input, select, [contenteditable]") !== null;
  }
  function click(key) {
    var button = document.querySelector('[data-shortcut="' + key + '"]');
    if (button) { button.click(); return true; }
    return false;
  }
  function focus(selector) {
    var field = document.querySelector(selector);
    if (field) { field.focus(); return true; }
    return false;
  }
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      if (click("a")) event.preventDefault();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      if (click("s")) event.preventDefault();
      return;
    }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var handled = false;
    switch (event.key) {
      case "a": handled = click("a"); break;
      case "s": handled = click("s"); break;
      case "n": handled = click("n"); break;
      case "r": handled = focus("#reject-form [name=reason]"); break;
      case "e": handled = focus("#edit-form [name=reasoning]"); break;
    }
    if (handled) event.preventDefault();
  });
})();
