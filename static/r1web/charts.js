// Draws the run charts from the figures the page embeds (json_script), polls for new
// points while the run trains, refetches downsampled points for the range on zoom, and
// redraws at once when the smoothing slider moves (the URL keeps the setting).
(function () {
  "use strict";
  var POLL_MS = 5000;
  var SLIDER_WAIT_MS = 150;

  function init() {
    var section = document.getElementById("charts");
    var source = document.getElementById("run-figures");
    if (!section || !source || !window.Plotly) return;
    var state = { x0: null, x1: null, live: section.dataset.live === "true", busy: false, again: false };
    draw(JSON.parse(source.textContent));
    bindSlider();

    function draw(figures) {
      Object.keys(figures).forEach(function (slug) {
        var el = document.getElementById("chart-" + slug);
        if (!el) return;
        var fig = figures[slug];
        if (state.x0 !== null && fig.layout.xaxis.visible !== false) {
          fig.layout.xaxis.range = [state.x0, state.x1];
        }
        Plotly.react(el, fig.data, fig.layout, { responsive: true, displaylogo: false });
        el.dataset.traces = String(fig.data.length);
        if (!el.dataset.bound) {
          el.dataset.bound = "1";
          el.on("plotly_relayout", onRelayout);
        }
      });
      section.dataset.drawn = "true";
    }

    function onRelayout(ev) {
      if (ev["xaxis.autorange"]) {
        state.x0 = state.x1 = null;
      } else if (ev["xaxis.range[0]"] !== undefined) {
        state.x0 = ev["xaxis.range[0]"];
        state.x1 = ev["xaxis.range[1]"];
      } else {
        return;
      }
      refresh();
    }

    function bindSlider() {
      var slider = document.getElementById("smoothing");
      var output = document.getElementById("smoothing-value");
      if (!slider) return;
      var timer = null;
      slider.addEventListener("input", function () {
        if (output) output.textContent = Number(slider.value).toFixed(2);
        clearTimeout(timer);
        timer = setTimeout(function () {
          section.dataset.smoothing = slider.value;
          var url = new URL(window.location.href);
          url.searchParams.set("smoothing", slider.value);
          history.replaceState(history.state, "", url);
          refresh();
        }, SLIDER_WAIT_MS);
      });
    }

    function refresh() {
      if (state.busy) { state.again = true; return; }
      state.busy = true;
      section.dataset.drawn = "false";
      var params = new URLSearchParams({
        points: section.dataset.points, smoothing: section.dataset.smoothing || "0"
      });
      if (section.dataset.compare) params.set("compare", section.dataset.compare);
      if (section.dataset.stage) params.set("stage", section.dataset.stage);
      if (state.x0 !== null) {
        params.set("x0", Math.floor(state.x0));
        params.set("x1", Math.ceil(state.x1));
      }
      fetch(section.dataset.url + "?" + params, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (body) { state.live = body.live; draw(body.figures); })
        .finally(function () {
          state.busy = false;
          if (state.again) { state.again = false; refresh(); }
        });
    }

    setInterval(function () { if (state.live) refresh(); }, POLL_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
