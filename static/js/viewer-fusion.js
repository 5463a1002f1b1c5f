// Fused display for the series viewer (docs/imaging.md, "Fused display"): another series of the
// patient, placed on this series' grid by the server (scanner coordinates or a rigid
// registration run as a job), drawn as a colour-mapped overlay on a second canvas stacked over
// the viewer's. It follows the viewer through the "viewer:draw" event that viewer.js dispatches
// each time it draws a slice, so it never needs to know how the viewer navigates.
(function () {
  "use strict";
  var root = document.getElementById("viewer");
  var panel = document.getElementById("viewer-fusion");
  if (!root || !panel) { return; }
  var baseUrl = root.getAttribute("data-base-url");
  var base = document.getElementById("viewer-canvas");
  var seriesEl = document.getElementById("viewer-fusion-series");
  var registrationEl = document.getElementById("viewer-fusion-registration");
  var cmapEl = document.getElementById("viewer-fusion-cmap");
  var opacityEl = document.getElementById("viewer-fusion-opacity");
  var levelEl = document.getElementById("viewer-fusion-level");
  var widthEl = document.getElementById("viewer-fusion-width");
  var statusEl = document.getElementById("viewer-fusion-status");

  // The overlay canvas: same intrinsic size and CSS box as the viewer's canvas (object-fit
  // contain then scales both alike); it ignores the mouse so scrolling and dragging still
  // reach the stage beneath.
  var overlay = document.createElement("canvas");
  overlay.id = "viewer-fusion-canvas";
  overlay.width = 1;
  overlay.height = 1;
  overlay.style.position = "absolute";
  overlay.style.pointerEvents = "none";
  base.parentNode.insertBefore(overlay, base.nextSibling);
  var octx = overlay.getContext("2d");

  var candidates = {}; // id -> candidate from the server
  var view = null; // {axis, index, width, height} of the slice the viewer shows
  var ready = null; // {id, registration, window} once the server has the fusion
  var pending = 0; // generation of the status requests, so a stale answer is ignored
  var images = new Map(); // url -> Image (a small LRU)
  var shown = "";

  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", Boolean(isError));
  }

  function clear() {
    octx.clearRect(0, 0, overlay.width, overlay.height);
    shown = "";
    panel.setAttribute("data-overlay", "");
  }

  function placeOverlay() {
    overlay.style.left = base.offsetLeft + "px";
    overlay.style.top = base.offsetTop + "px";
    overlay.style.width = base.offsetWidth + "px";
    overlay.style.height = base.offsetHeight + "px";
  }

  function sliceUrl() {
    var q = "?registration=" + encodeURIComponent(ready.registration) +
      "&cmap=" + encodeURIComponent(cmapEl.value) +
      "&wc=" + encodeURIComponent(levelEl.value) + "&ww=" + encodeURIComponent(widthEl.value);
    return baseUrl + "fusion/" + ready.id + "/" + view.axis + "/" + view.index + ".png" + q;
  }

  function image(url) {
    var img = images.get(url);
    if (img) { images.delete(url); images.set(url, img); return img; }
    img = new Image();
    img.onload = draw;
    img.onerror = function () { setStatus("The overlay could not be loaded.", true); };
    img.src = url;
    images.set(url, img);
    while (images.size > 64) { images.delete(images.keys().next().value); }
    return img;
  }

  function draw() {
    if (!ready || !view) { clear(); return; }
    var url = sliceUrl();
    var img = image(url);
    if (!img.complete || !img.naturalWidth) { return; }
    if (overlay.width !== view.width || overlay.height !== view.height) {
      overlay.width = view.width;
      overlay.height = view.height;
    }
    placeOverlay();
    octx.clearRect(0, 0, overlay.width, overlay.height);
    octx.globalAlpha = Number(opacityEl.value) / 100;
    octx.drawImage(img, 0, 0, view.width, view.height);
    octx.globalAlpha = 1;
    shown = url;
    panel.setAttribute("data-overlay", view.axis + ":" + view.index + ":" + opacityEl.value);
  }

  root.addEventListener("viewer:draw", function (e) {
    view = e.detail;
    draw();
  });

  function describe(report) {
    if (report.registration === "scanner") {
      return "Placed by scanner coordinates (shared frame of reference).";
    }
    var r = report.rotation_deg.map(function (v) { return v.toFixed(1); }).join(", ");
    var t = report.translation_mm.map(function (v) { return v.toFixed(1); }).join(", ");
    return "Rigid registration: rotation " + r + "°, shift " + t + " mm (up to " +
      report.max_displacement_mm.toFixed(1) + " mm from scanner coordinates). Check the fit.";
  }

  function load() {
    var id = seriesEl.value;
    var generation = ++pending;
    ready = null;
    clear();
    panel.setAttribute("data-state", id ? "loading" : "off");
    if (!id) { setStatus(""); return; }
    var registration = registrationEl.value || candidates[id].registration;
    var url = baseUrl + "fusion/" + id + "/?registration=" + encodeURIComponent(registration);
    fetch(url, { credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (body) { return { status: r.status, body: body }; });
      })
      .then(function (res) {
        if (generation !== pending) { return; }
        if (res.status === 202) {
          setStatus("Registering… (this runs once; the result is kept)");
          panel.setAttribute("data-state", "registering");
          window.setTimeout(function () { if (generation === pending) { load(); } }, 1500);
        } else if (res.status === 200) {
          ready = { id: id, registration: res.body.registration };
          levelEl.value = Math.round(res.body.window.center * 100) / 100;
          widthEl.value = Math.round(res.body.window.width * 100) / 100;
          setStatus(describe(res.body));
          panel.setAttribute("data-state", "ready");
          draw();
        } else {
          panel.setAttribute("data-state", "error");
          setStatus(res.body.error || "These series cannot be fused.", true);
        }
      })
      .catch(function () {
        if (generation !== pending) { return; }
        panel.setAttribute("data-state", "error");
        setStatus("The viewer could not reach the server.", true);
      });
  }

  function start(data) {
    data.candidates.forEach(function (c) {
      candidates[c.id] = c;
      var option = document.createElement("option");
      option.value = c.id;
      option.textContent = c.modality + (c.description ? " · " + c.description : "") +
        (c.study_date ? " · " + c.study_date : "") +
        (c.same_frame_of_reference ? " (same frame of reference)" : "");
      seriesEl.appendChild(option);
    });
    seriesEl.disabled = data.candidates.length === 0;
    if (!data.candidates.length) { setStatus("No other image series of this patient."); }
    panel.setAttribute("data-state", "off");
  }

  seriesEl.addEventListener("change", function () {
    var c = candidates[seriesEl.value];
    if (c) { cmapEl.value = c.colour_map; }
    load();
  });
  registrationEl.addEventListener("change", load);
  [cmapEl, levelEl, widthEl].forEach(function (el) { el.addEventListener("change", draw); });
  opacityEl.addEventListener("input", draw);
  window.addEventListener("resize", function () { if (shown) { placeOverlay(); } });

  // View state before the first "viewer:draw" this script saw (it may load after the viewer
  // drew): the viewer records what it rendered as "axis:index:...".
  var rendered = (root.getAttribute("data-rendered") || "").split(":");
  if (rendered.length > 1) {
    var canvas = base;
    view = { axis: rendered[0], index: Number(rendered[1]), width: canvas.width, height: canvas.height };
  }

  fetch(baseUrl + "fusion/", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : { candidates: [] }; })
    .then(start)
    .catch(function () { setStatus("The list of series could not be loaded.", true); });
})();
