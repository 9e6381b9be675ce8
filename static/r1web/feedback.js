// Every htmx request answers where the person is looking (issue 9, point 5):
// - Django messages that came with a fragment (the "r1web:messages" event that
//   r1web/feedback.py puts in HX-Trigger) show in the message area;
// - a refusal the view explains in a fragment (4xx) is swapped in like a success, since
//   htmx by default drops every 4xx/5xx body without a word;
// - an error page (403, 404, 500, CSRF) keeps the page as it is and says what happened;
// - a request that never reached the server says so.
(function () {
  "use strict";
  var MAX_SHOWN = 4;
  var FADE_MS = 10000;

  function area() {
    var box = document.getElementById("feedback");
    if (!box) {
      box = document.createElement("div");
      box.id = "feedback";
      box.className = "feedback";
      box.setAttribute("aria-live", "polite");
      box.setAttribute("aria-label", "Messages");
      document.body.appendChild(box);
    }
    return box;
  }

  function show(level, text) {
    var box = area();
    var shown = box.querySelectorAll(".feedback-message");
    for (var i = 0; i < shown.length; i++) {
      if (shown[i].dataset.text === text) return; // a poll failing again: once is enough
    }
    var item = document.createElement("div");
    item.className = "feedback-message " + level;
    item.dataset.text = text;
    if (level === "error" || level === "warning") item.setAttribute("role", "alert");
    var words = document.createElement("span");
    words.textContent = text; // text, never markup: it may quote what a user typed
    var close = document.createElement("button");
    close.type = "button";
    close.className = "feedback-close";
    close.setAttribute("aria-label", "Dismiss this message");
    close.textContent = "×";
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(words);
    item.appendChild(close);
    box.appendChild(item);
    while (box.children.length > MAX_SHOWN) box.removeChild(box.firstChild);
    if (level === "success" || level === "info") {
      window.setTimeout(function () { item.remove(); }, FADE_MS);
    }
  }

  function isPage(body) {
    return /^\s*<!doctype|^\s*<html/i.test(body);
  }

  // "Not allowed: this needs the curator role." from our error pages; the status line
  // when the page says nothing readable.
  function describe(xhr) {
    var status = xhr.status + (xhr.statusText ? " " + xhr.statusText : "");
    var body = xhr.responseText || "";
    if (!body.trim()) return "The server refused this (" + status + ").";
    var doc = new DOMParser().parseFromString(body, "text/html"); // parsed, never run
    var root = doc.querySelector("main") || doc.body;
    var heading = root && root.querySelector("h1");
    var detail = root && root.querySelector("p");
    var text = [heading, detail]
      .filter(Boolean)
      .map(function (el) { return el.textContent.replace(/\s+/g, " ").trim(); })
      .filter(Boolean)
      .join(": ");
    if (!text) text = "The server could not do this";
    return text + " (" + status + ")";
  }

  document.addEventListener("DOMContentLoaded", area); // live regions must exist first

  document.addEventListener("r1web:messages", function (event) {
    var queued = (event.detail && event.detail.value) || [];
    queued.forEach(function (message) { show(message.level, message.text); });
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    var body = xhr.responseText || "";
    if (body.trim() && !isPage(body)) {
      event.detail.shouldSwap = true; // the view's own fragment explains the refusal
      event.detail.isError = false;
      return;
    }
    event.detail.shouldSwap = false;
    show("error", describe(xhr));
  });

  document.addEventListener("htmx:sendError", function () {
    show("error", "Could not reach the server: nothing was sent. Check the connection and try again.");
  });

  document.addEventListener("htmx:timeout", function () {
    show("error", "The server took too long to answer. Try again in a moment.");
  });

  window.r1webFeedback = { show: show };
})();
