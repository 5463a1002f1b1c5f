/* The board's outcomes panel: draws the survival figure the server built
 * (oncology/board_panel.py, JSON in #outcomes-figure-data) with the locally served plotly.js,
 * and switches the reference option of the difference table from the pre-formatted numbers in
 * #outcomes-panel-data (no round trip; without JavaScript the form submits ?reference=).
 * Projector mode (static/js/contrast.js) restyles the figure: thicker lines, larger type. */
(function () {
  "use strict";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function projectorOn() {
    return document.documentElement.classList.contains("projector");
  }

  function styledFigure(figure) {
    var big = projectorOn();
    var data = figure.data.map(function (trace) {
      var t = Object.assign({}, trace);
      if (t.meta && t.meta.role === "curve") {
        t.line = Object.assign({}, t.line, { width: big ? 6 : 3 });
      }
      return t;
    });
    var layout = JSON.parse(JSON.stringify(figure.layout));
    var size = big ? 24 : 16;
    layout.font = Object.assign({}, layout.font, { size: size, color: big ? "#000000" : layout.font.color });
    layout.legend = Object.assign({}, layout.legend, { font: { size: size } });
    if (big) {
      layout.height = 620;
      layout.margin = { l: 110, r: 30, t: 20, b: 150 };
      layout.legend.y = -0.32;
      layout.xaxis.title = Object.assign({}, layout.xaxis.title, { standoff: 16 });
      layout.yaxis.title = Object.assign({}, layout.yaxis.title, { standoff: 18 });
      layout.xaxis.gridcolor = layout.yaxis.gridcolor = "#8a8a8a";
      layout.xaxis.linecolor = layout.yaxis.linecolor = "#000000";
      layout.xaxis.linewidth = layout.yaxis.linewidth = 3;
    }
    return { data: data, layout: layout, config: figure.config };
  }

  function drawChart(figure) {
    var el = document.getElementById("outcomes-chart");
    if (!el || !figure || !window.Plotly) {
      if (el) el.setAttribute("data-rendered", "unavailable");
      return;
    }
    var styled = styledFigure(figure);
    window.Plotly.react(el, styled.data, styled.layout, styled.config).then(function () {
      el.setAttribute("data-rendered", projectorOn() ? "projector" : "normal");
      el.setAttribute("data-traces", String(styled.data.length));
    });
  }

  function setReference(data, reference) {
    var table = document.getElementById("outcomes-differences");
    if (!table || !data.differences[reference]) return;
    var rows = data.differences[reference];
    table.querySelectorAll("td[data-diff-option]").forEach(function (td) {
      var option = td.getAttribute("data-diff-option");
      var metric = td.getAttribute("data-diff-metric");
      td.textContent = "";
      if (option === reference) {
        td.textContent = "reference";
        return;
      }
      var cell = (rows[option] || {})[metric] || [data.not_estimated, data.not_estimated];
      var value = document.createElement("span");
      value.className = "diff-value";
      value.textContent = cell[0];
      td.appendChild(value);
      if (cell[0] !== data.not_estimated) {
        var ci = document.createElement("span");
        ci.className = "ci";
        ci.textContent = "(" + cell[1] + ")";
        td.appendChild(document.createTextNode(" "));
        td.appendChild(ci);
      }
    });
    var name = table.querySelector("[data-reference-name]");
    if (name) name.textContent = reference;
    table.setAttribute("data-reference", reference);
  }

  function init() {
    var figure = readJson("outcomes-figure-data");
    var data = readJson("outcomes-panel-data");
    drawChart(figure);
    document.addEventListener("projectorchange", function () { drawChart(figure); });
    if (!data) return;
    var form = document.querySelector("[data-outcomes-reference-form]");
    var select = document.getElementById("outcomes-reference");
    if (form && select) {
      form.querySelectorAll("[data-no-js-only]").forEach(function (b) { b.hidden = true; });
      select.addEventListener("change", function () { setReference(data, select.value); });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        setReference(data, select.value);
      });
      setReference(data, select.value);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
