// Draws static figures a page embeds: each element with data-figure="<id>" gets the
// Plotly figure of the json_script element with that id (stage panels; no polling).
(function () {
  "use strict";

  function init() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || el.dataset.drawn) return;
      var fig = JSON.parse(source.textContent);
      Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false });
      el.dataset.drawn = "true";
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
