// Series viewer: server-rendered, windowed PNG slices drawn on a canvas, with mask overlays and
// the mask's measurement. Slices are loaded as images and kept in memory (responses are
// no-store, so the browser cache cannot help); neighbours of the shown slice are preloaded.
(function () {
  "use strict";
  var root = document.getElementById("viewer");
  if (!root) { return; }
  var metaUrl = root.getAttribute("data-meta-url");
  var baseUrl = root.getAttribute("data-base-url");
  var canvas = document.getElementById("viewer-canvas");
  var ctx = canvas.getContext("2d");
  var stage = document.getElementById("viewer-stage");
  var statusEl = document.getElementById("viewer-status");
  var sliceEl = document.getElementById("viewer-slice");
  var wlEl = document.getElementById("viewer-wl");
  var presetEl = document.getElementById("viewer-preset");
  var maskToggle = document.getElementById("viewer-mask-toggle");
  var maskSelect = document.getElementById("viewer-mask-select");
  var opacityEl = document.getElementById("viewer-opacity");
  var measureEl = document.getElementById("viewer-measure");

  var MAX_CACHED = 600;
  var PRELOAD = 4;
  var meta = null;
  var axis = "axial";
  var index = { axial: 0, coronal: 0, sagittal: 0 };
  var wc = 40;
  var ww = 400;
  var images = new Map(); // url -> {img, ready}
  var measurements = {}; // mask id -> measurement or null
  var measuring = {}; // mask id -> request under way
  var drawPending = false;

  function setStatus(text) {
    statusEl.textContent = text;
    statusEl.hidden = !text;
  }

  // Requests go through one queue: the shown slice first, then its neighbours, at most
  // `maxInflight` at a time (1 on SQLite, which serialises the session write of each request).
  var queue = [];
  var inflight = 0;
  var maxInflight = Number(root.getAttribute("data-concurrency")) || 4;

  function pump() {
    while (inflight < maxInflight && queue.length) {
      launch(queue.shift());
    }
  }

  function launch(job) {
    inflight++;
    job.queued = false;
    function done() { inflight--; pump(); scheduleDraw(); }
    if (job.task) {
      job.task().then(done, done);
      return;
    }
    job.img.onload = function () { job.ready = true; done(); };
    job.img.onerror = function () { job.failed = true; done(); };
    job.img.src = job.url;
  }

  function enqueueTask(task) {
    queue.unshift({ task: task });
    pump();
  }

  function remember(url, urgent) {
    var entry = images.get(url);
    if (entry) {
      images.delete(url); // re-insert: Map order is the LRU order
      images.set(url, entry);
      if (urgent && entry.queued) {
        queue.splice(queue.indexOf(entry), 1);
        queue.unshift(entry);
      }
      return entry;
    }
    entry = { img: new Image(), url: url, ready: false, failed: false, queued: true };
    images.set(url, entry);
    if (urgent) { queue.unshift(entry); } else { queue.push(entry); }
    while (images.size > MAX_CACHED) {
      var oldest = images.keys().next().value;
      var evicted = images.get(oldest);
      images.delete(oldest);
      if (evicted.queued) { queue.splice(queue.indexOf(evicted), 1); }
    }
    pump();
    return entry;
  }

  // Drop queued loads nobody waits for any more (an old window while dragging, slices
  // scrolled past), so the queue holds only what the current view needs.
  function keepOnly(wanted) {
    queue = queue.filter(function (job) {
      if (job.task || wanted[job.url]) { return true; }
      images.delete(job.url);
      return false;
    });
  }

  function sliceUrl(ax, i) {
    return baseUrl + "slice/" + ax + "/" + i + ".png?wc=" + encodeURIComponent(wc) +
      "&ww=" + encodeURIComponent(ww);
  }

  function maskUrl(id, ax, i) {
    return baseUrl + "masks/" + id + "/" + ax + "/" + i + ".png";
  }

  function currentMask() {
    return maskToggle.checked && maskSelect.value ? maskSelect.value : null;
  }

  function neighbourUrls() {
    var count = meta.axes[axis].count;
    var urls = [];
    for (var d = 1; d <= PRELOAD; d++) {
      [index[axis] + d, index[axis] - d].forEach(function (i) {
        if (i >= 0 && i < count) {
          urls.push(sliceUrl(axis, i));
          if (currentMask()) { urls.push(maskUrl(currentMask(), axis, i)); }
        }
      });
    }
    return urls;
  }

  function scheduleDraw() {
    if (drawPending) { return; }
    drawPending = true;
    window.requestAnimationFrame(function () { drawPending = false; draw(); });
  }

  function drawMeasurement(m) {
    var dims = meta.axes.axial;
    var sx = dims.width / meta.shape.x;
    var sy = dims.height / meta.shape.y;
    function line(points, colour) {
      ctx.beginPath();
      ctx.moveTo((points[0][0] + 0.5) * sx, (points[0][1] + 0.5) * sy);
      ctx.lineTo((points[1][0] + 0.5) * sx, (points[1][1] + 0.5) * sy);
      ctx.strokeStyle = colour;
      ctx.lineWidth = Math.max(1.5, dims.width / 256);
      ctx.setLineDash([]);
      ctx.stroke();
    }
    ctx.save();
    ctx.globalAlpha = 1;
    line(m.longest_line, "#ffd60a");
    line(m.perpendicular_line, "#4cc9f0");
    ctx.restore();
  }

  function draw() {
    if (!meta) { return; }
    var dims = meta.axes[axis];
    var url = sliceUrl(axis, index[axis]);
    var id = currentMask();
    var neighbours = neighbourUrls();
    var wanted = {};
    wanted[url] = true;
    if (id) { wanted[maskUrl(id, axis, index[axis])] = true; }
    neighbours.forEach(function (u) { wanted[u] = true; });
    keepOnly(wanted);
    var maskEntry = id ? remember(maskUrl(id, axis, index[axis]), true) : null;
    var entry = remember(url, true);
    if (entry.failed) { setStatus("This slice could not be loaded."); return; }
    if (!entry.ready || (maskEntry && !maskEntry.ready && !maskEntry.failed)) { return; }
    if (canvas.width !== dims.width || canvas.height !== dims.height) {
      canvas.width = dims.width;
      canvas.height = dims.height;
    }
    ctx.globalAlpha = 1;
    ctx.drawImage(entry.img, 0, 0, dims.width, dims.height);
    var rendered = axis + ":" + index[axis] + ":" + wc + ":" + ww;
    if (maskEntry && maskEntry.ready) {
      ctx.globalAlpha = Number(opacityEl.value) / 100;
      ctx.drawImage(maskEntry.img, 0, 0, dims.width, dims.height);
      ctx.globalAlpha = 1;
      rendered += ":mask:" + opacityEl.value;
      var m = measurements[id];
      if (m && axis === "axial" && m.slice === index.axial) { drawMeasurement(m); }
    }
    setStatus("");
    if (!root.hasAttribute("data-first-image-ms")) {
      // Milliseconds from navigation start to the first slice on screen (tests, benchmarks).
      root.setAttribute("data-first-image-ms", String(Math.max(1, Math.round(performance.now()))));
    }
    root.setAttribute("data-state", "ready");
    root.setAttribute("data-rendered", rendered);
    sliceEl.textContent = axis.charAt(0).toUpperCase() + axis.slice(1) + " " +
      (index[axis] + 1) + " / " + dims.count;
    wlEl.textContent = "W " + Math.round(ww) + " / L " + Math.round(wc);
    neighbours.forEach(function (u) { remember(u, false); });
  }

  function go(delta) {
    if (!meta) { return; }
    var count = meta.axes[axis].count;
    var next = Math.min(count - 1, Math.max(0, index[axis] + delta));
    if (next !== index[axis]) {
      index[axis] = next;
      scheduleDraw();
    }
  }

  function setWindow(center, width) {
    wc = Math.round(center);
    ww = Math.max(1, Math.round(width));
    var match = "";
    Object.keys(meta.presets).forEach(function (name) {
      var p = meta.presets[name];
      if (p.center === wc && p.width === ww) { match = name; }
    });
    presetEl.value = match;
    scheduleDraw();
  }

  function setAxis(name) {
    axis = name;
    root.querySelectorAll("[data-axis]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-axis") === name ? "true" : "false");
    });
    scheduleDraw();
  }

  function showMeasurement() {
    var id = currentMask();
    var m = id ? measurements[id] : null;
    if (!id || m === undefined) { measureEl.textContent = ""; return; }
    if (m === null) { measureEl.textContent = "Empty mask: nothing to measure."; return; }
    measureEl.textContent = "Volume " + m.volume_ml.toFixed(2) + " ml · longest axial diameter " +
      m.longest_diameter_mm.toFixed(1) + " mm, perpendicular " +
      m.perpendicular_diameter_mm.toFixed(1) + " mm (axial slice " + (m.slice + 1) + ")";
  }

  function loadMeasurement(id) {
    if (measurements[id] !== undefined || measuring[id]) { showMeasurement(); return; }
    measuring[id] = true;
    enqueueTask(function () {
      return fetch(baseUrl + "masks/" + id + "/", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(onMeasurement);
    });
    function onMeasurement(data) {
      measuring[id] = false;
      if (data) {
        measurements[id] = data.measurement;
        // Show the slice the diameters were measured on, where their lines are drawn.
        if (data.measurement && axis === "axial") { index.axial = data.measurement.slice; }
      }
      showMeasurement();
      scheduleDraw();
    }
  }

  function start(data) {
    meta = data;
    index.axial = Math.floor(meta.axes.axial.count / 2);
    index.coronal = Math.floor(meta.axes.coronal.count / 2);
    index.sagittal = Math.floor(meta.axes.sagittal.count / 2);
    Object.keys(meta.presets).forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      option.textContent = name.charAt(0).toUpperCase() + name.slice(1);
      presetEl.appendChild(option);
    });
    meta.masks.forEach(function (mask) {
      var option = document.createElement("option");
      option.value = mask.id;
      option.textContent = mask.label;
      maskSelect.appendChild(option);
    });
    if (meta.masks.length) {
      maskToggle.disabled = false;
      maskSelect.disabled = false;
      opacityEl.disabled = false;
    }
    setWindow(meta.window.center, meta.window.width);
  }

  function loadMeta() {
    fetch(metaUrl, { credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (body) { return { status: r.status, body: body }; });
      })
      .then(function (res) {
        if (res.status === 202) {
          setStatus("Preparing the volume…");
          root.setAttribute("data-state", "preparing");
          window.setTimeout(loadMeta, 1000);
        } else if (res.status === 200) {
          start(res.body);
        } else {
          root.setAttribute("data-state", "error");
          setStatus(res.body.error || "This series cannot be shown.");
        }
      })
      .catch(function () {
        root.setAttribute("data-state", "error");
        setStatus("The viewer could not reach the server.");
      });
  }

  // Navigation: wheel, keys, plane buttons.
  stage.addEventListener("wheel", function (e) {
    e.preventDefault();
    go(e.deltaY > 0 ? 1 : -1);
  }, { passive: false });
  stage.addEventListener("keydown", function (e) {
    var steps = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, PageDown: 10, PageUp: -10 };
    if (e.key in steps) {
      e.preventDefault();
      go(steps[e.key]);
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      go(e.key === "Home" ? -1e9 : 1e9);
    }
  });
  root.querySelectorAll("[data-axis]").forEach(function (b) {
    b.addEventListener("click", function () { setAxis(b.getAttribute("data-axis")); });
  });

  // Window/level: presets and drag (either button; right-drag avoids selecting text).
  presetEl.addEventListener("change", function () {
    var p = meta && meta.presets[presetEl.value];
    if (p) { setWindow(p.center, p.width); }
  });
  var drag = null;
  stage.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  stage.addEventListener("mousedown", function (e) {
    if (!meta) { return; }
    e.preventDefault();
    stage.focus();
    drag = { x: e.clientX, y: e.clientY, wc: wc, ww: ww };
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    // One screen pixel is 2 HU of width or level: a full-width drag spans a bone window.
    setWindow(drag.wc + (e.clientY - drag.y) * 2, drag.ww + (e.clientX - drag.x) * 2);
  });
  window.addEventListener("mouseup", function () { drag = null; });

  // Masks.
  maskToggle.addEventListener("change", function () {
    if (maskToggle.checked && maskSelect.value) { loadMeasurement(maskSelect.value); }
    showMeasurement();
    scheduleDraw();
  });
  maskSelect.addEventListener("change", function () {
    if (maskToggle.checked) { loadMeasurement(maskSelect.value); }
    showMeasurement();
    scheduleDraw();
  });
  opacityEl.addEventListener("input", scheduleDraw);

  loadMeta();
})();
