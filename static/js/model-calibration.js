/* Outcome-model pages: draw each figure the server built (oncology/figures_outcomes.py) with
 * the locally served plotly.js. A figure's JSON sits in a json_script element whose id the
 * placeholder names in data-figure (the CSP forbids inline scripts). The tables beside each
 * figure hold the same numbers, so nothing is lost without JavaScript. */
(function () {
  "use strict";

  function draw() {
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var node = document.getElementById(el.getAttribute("data-figure"));
      if (!node || !window.Plotly) {
        el.setAttribute("data-rendered", "unavailable");
        return;
      }
      var figure = JSON.parse(node.textContent);
      window.Plotly.newPlot(el, figure.data, figure.layout, figure.config).then(function () {
        el.setAttribute("data-rendered", "yes");
        el.setAttribute("data-traces", String(figure.data.length));
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
