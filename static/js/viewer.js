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
  var kindEl = document.getElementById("viewer-mask-kind");
  var exportEl = document.getElementById("viewer-mask-export");
  var toolsEl = document.getElementById("viewer-mask-tools");
  var messageEl = document.getElementById("viewer-mask-message");
  var brushSizeEl = document.getElementById("viewer-brush-size");
  var saveEl = document.getElementById("viewer-draw-save");
  var cancelEl = document.getElementById("viewer-draw-cancel");
  var deleteEl = document.getElementById("viewer-mask-delete");
  var labelEl = document.getElementById("viewer-mask-label");

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
  var masksById = {}; // mask id -> the metadata's mask entry (kind, version, stored...)
  var tool = null; // null, "seed", "brush" or "eraser"
  var edits = new Map(); // axial index -> Uint8Array(y * x) of the edited slice (1 inside)
  var editTarget = null; // the mask id the edits apply to ("" for a new drawn mask)
  var painting = null; // the stroke under way: {value, last: [x, y]}
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

  function maskVersion(id) {
    var mask = masksById[id];
    return mask && mask.version ? mask.version : "";
  }

  // A stored mask's images change with each saved edit: its version keeps old images out.
  function maskUrl(id, ax, i) {
    var version = maskVersion(id);
    return baseUrl + "masks/" + id + "/" + ax + "/" + i + ".png" + (version ? "?v=" + version : "");
  }

  function measurementKey(id) { return id + ":" + maskVersion(id); }

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
    var edited = axis === "axial" ? edits.get(index.axial) : null;
    if (edited) {
      drawEditedSlice(edited, dims);
      rendered += ":edit:" + edits.size;
    } else if (maskEntry && maskEntry.ready) {
      ctx.globalAlpha = Number(opacityEl.value) / 100;
      ctx.drawImage(maskEntry.img, 0, 0, dims.width, dims.height);
      ctx.globalAlpha = 1;
      rendered += (maskVersion(id) ? ":v:" + maskVersion(id) : "") + ":mask:" + opacityEl.value;
      var m = measurements[measurementKey(id)];
      if (m && axis === "axial" && m.slice === index.axial) { drawMeasurement(m); }
    }
    if (tool) { rendered += ":tool:" + tool; }
    setStatus("");
    if (!root.hasAttribute("data-first-image-ms")) {
      // Milliseconds from navigation start to the first slice on screen (tests, benchmarks).
      root.setAttribute("data-first-image-ms", String(Math.max(1, Math.round(performance.now()))));
    }
    root.setAttribute("data-state", "ready");
    root.setAttribute("data-rendered", rendered);
    // Fused display hook (static/js/viewer-fusion.js draws its overlay for this slice).
    root.dispatchEvent(new CustomEvent("viewer:draw", {
      detail: { axis: axis, index: index[axis], width: dims.width, height: dims.height,
        shape: meta.shape, spacing: meta.spacing_mm }
    }));
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

  // Change across studies: this mask against a mask of another series of the patient.
  var compareEl = document.getElementById("viewer-compare");
  var changeEl = document.getElementById("viewer-change");

  function loadCompareOptions() {
    fetch(baseUrl + "mask-compare.json", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { options: [] }; })
      .then(function (data) {
        data.options.forEach(function (o) {
          var option = document.createElement("option");
          option.value = o.series + "/" + o.mask;
          option.textContent = o.label;
          compareEl.appendChild(option);
        });
        document.getElementById("viewer-compare-group").hidden = data.options.length === 0;
      });
  }

  function signed(value, unit) {
    if (value === null) { return "n/a"; }
    return (value > 0 ? "+" : "") + value.toFixed(unit === "%" ? 0 : 2) + (unit === "%" ? " %" : " " + unit);
  }

  var changeShown = null; // the request whose answer is on screen
  function showChange() {
    var id = currentMask();
    var url = id && compareEl.value ?
      baseUrl + "masks/" + id + "/change/" + compareEl.value + "/?v=" + maskVersion(id) : null;
    if (url === changeShown) { return; }
    changeShown = url;
    changeEl.textContent = "";
    if (!url) { return; }
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) { changeEl.textContent = data.error; return; }
        var c = data.change;
        changeEl.textContent = "Since the compared mask: longest diameter " +
          signed(c.diameter_mm, "mm") + " (" + signed(c.diameter_percent, "%") + "), volume " +
          signed(c.volume_ml, "ml") + " (" + signed(c.volume_percent, "%") + ")";
      });
  }

  function showMeasurement() {
    showChange();
    var id = currentMask();
    var m = id ? measurements[measurementKey(id)] : null;
    if (!id || m === undefined) { measureEl.textContent = ""; return; }
    if (m === null) { measureEl.textContent = "Empty mask: nothing to measure."; return; }
    measureEl.textContent = "Volume " + m.volume_ml.toFixed(2) + " ml · longest axial diameter " +
      m.longest_diameter_mm.toFixed(1) + " mm, perpendicular " +
      m.perpendicular_diameter_mm.toFixed(1) + " mm (axial slice " + (m.slice + 1) + ")";
  }

  function loadMeasurement(id) {
    var key = measurementKey(id);
    if (measurements[key] !== undefined || measuring[key]) { showMeasurement(); return; }
    measuring[key] = true;
    enqueueTask(function () {
      return fetch(baseUrl + "masks/" + id + "/", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(onMeasurement);
    });
    function onMeasurement(data) {
      measuring[key] = false;
      if (data) {
        measurements[key] = data.measurement;
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
    setMasks(meta.masks, null);
    if (meta.can_edit_masks) { toolsEl.hidden = false; }
    loadCompareOptions();
    setWindow(meta.window.center, meta.window.width);
  }

  // While the volume is assembled (inline or by the prepare job) the page shows the middle
  // axial slice rendered from its own instance file: the first image within tens of ms.
  function loadPreview(then) {
    var url = root.getAttribute("data-preview-url");
    if (!url) { then(); return; }
    var img = new Image();
    img.onload = function () {
      if (!meta && !root.hasAttribute("data-first-image-ms")) {
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        ctx.drawImage(img, 0, 0);
        root.setAttribute("data-first-image-ms", String(Math.max(1, Math.round(performance.now()))));
        root.setAttribute("data-preview", "shown");
      }
      then();
    };
    img.onerror = function () { then(); };
    img.src = url;
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
  // Screening findings (static/js/viewer-findings.js) jump to a slice: {axis, index}.
  root.addEventListener("viewer:goto", function (e) {
    if (!meta || !e.detail || !meta.axes[e.detail.axis]) { return; }
    var count = meta.axes[e.detail.axis].count;
    index[e.detail.axis] = Math.min(count - 1, Math.max(0, Math.round(e.detail.index)));
    setAxis(e.detail.axis);
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
    if (tool && e.button === 0 && toolDown(e)) { return; }
    drag = { x: e.clientX, y: e.clientY, wc: wc, ww: ww };
  });
  window.addEventListener("mousemove", function (e) {
    if (painting) { toolMove(e); return; }
    if (!drag) { return; }
    // One screen pixel is 2 HU of width or level: a full-width drag spans a bone window.
    setWindow(drag.wc + (e.clientY - drag.y) * 2, drag.ww + (e.clientX - drag.x) * 2);
  });
  window.addEventListener("mouseup", function () { drag = null; painting = null; });

  // Masks.
  maskToggle.addEventListener("change", function () {
    if (maskToggle.checked && maskSelect.value) { loadMeasurement(maskSelect.value); }
    showMaskKind();
    showMeasurement();
    scheduleDraw();
  });
  maskSelect.addEventListener("change", function () {
    if (maskToggle.checked) { loadMeasurement(maskSelect.value); }
    showMaskKind();
    showMeasurement();
    scheduleDraw();
  });
  opacityEl.addEventListener("input", scheduleDraw);
  compareEl.addEventListener("change", showChange);

  // --- stored masks: list, seed tool, brush and eraser, import, export, delete -------------

  function csrfToken() {
    var input = toolsEl.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(text, isError) {
    messageEl.textContent = text;
    messageEl.classList.toggle("error", Boolean(isError));
  }

  function post(url, body, isForm) {
    var headers = { "X-CSRFToken": csrfToken() };
    if (!isForm) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: isForm ? body : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          throw new Error(data.error || (r.status === 403 ? "Not allowed." : "The server refused the request."));
        }
        return data;
      });
    });
  }

  function optionText(mask) {
    var text = mask.label + " · " + mask.kind;
    if (mask.edited) { text += ", edited"; }
    if (mask.review) { text += " (reached the window: review)"; }
    return text;
  }

  function setMasks(list, selectId) {
    masksById = {};
    maskSelect.textContent = "";
    list.forEach(function (mask) {
      masksById[mask.id] = mask;
      var option = document.createElement("option");
      option.value = mask.id;
      option.textContent = optionText(mask);
      maskSelect.appendChild(option);
    });
    var any = list.length > 0;
    maskToggle.disabled = !any;
    maskSelect.disabled = !any;
    opacityEl.disabled = !any;
    if (!any) { maskToggle.checked = false; }
    if (selectId && masksById[selectId]) {
      maskSelect.value = selectId;
      maskToggle.checked = true;
      loadMeasurement(selectId);
    }
    showMaskKind();
    showMeasurement();
    scheduleDraw();
  }

  function showMaskKind() {
    var mask = maskSelect.value ? masksById[maskSelect.value] : null;
    kindEl.textContent = mask ? mask.kind + (mask.edited ? ", edited" : "") : "";
    kindEl.hidden = !mask;
    exportEl.hidden = !mask;
    deleteEl.hidden = !(mask && mask.stored);
    if (mask) {
      document.getElementById("viewer-export-seg").href = baseUrl + "masks/" + mask.id + "/export/seg/";
      document.getElementById("viewer-export-nifti").href = baseUrl + "masks/" + mask.id + "/export/nifti/";
    }
  }

  function refreshMasks(selectId) {
    return fetch(metaUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (data.masks) { setMasks(data.masks, selectId); } });
  }

  function setTool(name) {
    tool = tool === name ? null : name;
    toolsEl.querySelectorAll("[data-tool]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-tool") === tool ? "true" : "false");
    });
    if (tool && axis !== "axial") { setAxis("axial"); }
    stage.setAttribute("data-tool", tool || "");
    if (tool === "seed") { say("Click inside the lesion on an axial slice."); }
    else if (tool) { say("Paint on the axial slice; Save drawing keeps the change."); }
    scheduleDraw();
  }

  // The voxel (x, y) under the pointer on the axial slice; the canvas keeps its aspect inside
  // the stage (object-fit: contain), so the letterbox is taken off first.
  function voxelAt(e) {
    var rect = canvas.getBoundingClientRect();
    var scale = Math.min(rect.width / canvas.width, rect.height / canvas.height);
    var left = rect.left + (rect.width - canvas.width * scale) / 2;
    var top = rect.top + (rect.height - canvas.height * scale) / 2;
    var cx = (e.clientX - left) / scale;
    var cy = (e.clientY - top) / scale;
    var x = Math.floor(cx * meta.shape.x / canvas.width);
    var y = Math.floor(cy * meta.shape.y / canvas.height);
    if (x < 0 || y < 0 || x >= meta.shape.x || y >= meta.shape.y) { return null; }
    return [x, y];
  }

  function toolDown(e) {
    if (axis !== "axial") { return false; }
    var voxel = voxelAt(e);
    if (!voxel) { return true; }
    if (tool === "seed") {
      segmentFromSeed(voxel);
      return true;
    }
    var buffer = editBuffer(index.axial);
    if (!buffer) { return true; }
    painting = { value: tool === "brush" ? 1 : 0, last: voxel };
    paint(buffer, voxel, voxel, painting.value);
    return true;
  }

  function toolMove(e) {
    var voxel = voxelAt(e);
    var buffer = edits.get(index.axial);
    if (!voxel || !buffer) { return; }
    paint(buffer, painting.last, voxel, painting.value);
    painting.last = voxel;
  }

  // The edited copy of slice z, started from the shown mask's voxels (read back from its
  // overlay image at the voxel centres) or from nothing when no mask is shown.
  function editBuffer(z) {
    var target = currentMask() || "";
    if (edits.size && target !== editTarget) {
      say("Save or cancel the drawing on the other mask first.", true);
      return null;
    }
    if (edits.has(z)) { return edits.get(z); }
    var buffer = new Uint8Array(meta.shape.x * meta.shape.y);
    if (target) {
      var entry = images.get(maskUrl(target, "axial", z));
      if (!entry || !entry.ready) { say("The mask is still loading; try again.", true); return null; }
      var dims = meta.axes.axial;
      var off = document.createElement("canvas");
      off.width = dims.width;
      off.height = dims.height;
      var octx = off.getContext("2d");
      octx.drawImage(entry.img, 0, 0);
      var alpha = octx.getImageData(0, 0, dims.width, dims.height).data;
      for (var y = 0; y < meta.shape.y; y++) {
        var row = Math.min(dims.height - 1, Math.floor((y + 0.5) * dims.height / meta.shape.y));
        for (var x = 0; x < meta.shape.x; x++) {
          var col = Math.min(dims.width - 1, Math.floor((x + 0.5) * dims.width / meta.shape.x));
          buffer[y * meta.shape.x + x] = alpha[(row * dims.width + col) * 4 + 3] > 127 ? 1 : 0;
        }
      }
    }
    editTarget = target;
    edits.set(z, buffer);
    saveEl.disabled = false;
    cancelEl.disabled = false;
    return buffer;
  }

  // A round brush of the chosen radius (in voxels) stamped along the segment a -> b.
  function paint(buffer, a, b, value) {
    var radius = Number(brushSizeEl.value) - 1;
    var steps = Math.max(1, Math.ceil(Math.hypot(b[0] - a[0], b[1] - a[1])));
    for (var s = 0; s <= steps; s++) {
      var px = Math.round(a[0] + (b[0] - a[0]) * s / steps);
      var py = Math.round(a[1] + (b[1] - a[1]) * s / steps);
      for (var dy = -radius; dy <= radius; dy++) {
        for (var dx = -radius; dx <= radius; dx++) {
          var x = px + dx, y = py + dy;
          if (dx * dx + dy * dy > radius * radius + radius || x < 0 || y < 0 ||
              x >= meta.shape.x || y >= meta.shape.y) { continue; }
          buffer[y * meta.shape.x + x] = value;
        }
      }
    }
    scheduleDraw();
  }

  function drawEditedSlice(buffer, dims) {
    var colour = [255, 214, 10];
    var mask = editTarget ? masksById[editTarget] : null;
    if (mask && mask.colour) { colour = mask.colour; }
    var off = document.createElement("canvas");
    off.width = meta.shape.x;
    off.height = meta.shape.y;
    var octx = off.getContext("2d");
    var image = octx.createImageData(meta.shape.x, meta.shape.y);
    for (var i = 0; i < buffer.length; i++) {
      if (buffer[i]) {
        image.data[i * 4] = colour[0];
        image.data[i * 4 + 1] = colour[1];
        image.data[i * 4 + 2] = colour[2];
        image.data[i * 4 + 3] = 255;
      }
    }
    octx.putImageData(image, 0, 0);
    ctx.save();
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = Math.max(0.3, Number(opacityEl.value) / 100);
    ctx.drawImage(off, 0, 0, dims.width, dims.height);
    ctx.restore();
  }

  // Run lengths over the slice in row-major order, alternating outside/inside, starting outside.
  function runLengths(buffer) {
    var runs = [];
    var current = 0, length = 0;
    for (var i = 0; i < buffer.length; i++) {
      if (buffer[i] !== current) { runs.push(length); current = buffer[i]; length = 0; }
      length++;
    }
    runs.push(length);
    return runs;
  }

  function clearEdits() {
    edits = new Map();
    editTarget = null;
    painting = null;
    saveEl.disabled = true;
    cancelEl.disabled = true;
    scheduleDraw();
  }

  function saveDrawing() {
    if (!edits.size) { return; }
    var slices = [];
    edits.forEach(function (buffer, z) { slices.push({ z: z, runs: runLengths(buffer) }); });
    saveEl.disabled = true;
    say("Saving the drawing…");
    post(baseUrl + "mask-draw/", { mask: editTarget || "", label: labelEl.value, slices: slices })
      .then(function (data) {
        say("Saved: " + data.mask.label + ".");
        // Keep the edit on screen until the saved version's images replace it.
        return refreshMasks(data.mask.id).then(clearEdits);
      })
      .catch(function (err) { saveEl.disabled = false; say(err.message, true); });
  }

  function segmentFromSeed(voxel) {
    function number(id) {
      var value = document.getElementById(id).value;
      return value === "" ? null : Number(value);
    }
    var body = {
      seed: [index.axial, voxel[1], voxel[0]],
      low: number("viewer-seed-low"),
      high: number("viewer-seed-high"),
      window_mm: number("viewer-seed-window"),
      opening_mm: number("viewer-seed-opening"),
      label: labelEl.value
    };
    say("Growing the region from the seed…");
    post(baseUrl + "mask-seed/", body)
      .then(function (data) {
        var m = data.mask;
        say("Semi-automatic mask \u201c" + m.label + "\u201d: " + m.voxel_count + " voxels" +
          (m.touches_window ? "; it reached the window's edge and may have leaked: review it." :
            ". Review it and correct it with the brush."), m.touches_window);
        setTool("seed");
        return refreshMasks(m.id);
      })
      .catch(function (err) { say(err.message, true); });
  }

  function importNifti() {
    var input = document.getElementById("viewer-import-file");
    if (!input.files.length) { say("Choose a NIfTI file (.nii or .nii.gz).", true); return; }
    var form = new FormData();
    form.append("file", input.files[0]);
    form.append("label", labelEl.value);
    say("Importing…");
    post(baseUrl + "mask-import/", form, true)
      .then(function (data) {
        input.value = "";
        say("Imported: " + data.mask.label + ".");
        return refreshMasks(data.mask.id);
      })
      .catch(function (err) { say(err.message, true); });
  }

  function deleteMask() {
    var id = maskSelect.value;
    var mask = masksById[id];
    if (!mask || !mask.stored) { return; }
    if (!window.confirm("Delete the mask \u201c" + mask.label + "\u201d?")) { return; }
    post(baseUrl + "masks/" + id + "/delete/", {})
      .then(function () { say("Deleted."); return refreshMasks(null); })
      .catch(function (err) { say(err.message, true); });
  }

  toolsEl.querySelectorAll("[data-tool]").forEach(function (b) {
    b.addEventListener("click", function () { setTool(b.getAttribute("data-tool")); });
  });
  brushSizeEl.addEventListener("input", function () {
    document.getElementById("viewer-brush-size-value").textContent = brushSizeEl.value + " px";
  });
  saveEl.addEventListener("click", saveDrawing);
  cancelEl.addEventListener("click", function () { clearEdits(); say("Drawing discarded."); });
  deleteEl.addEventListener("click", deleteMask);
  document.getElementById("viewer-import").addEventListener("click", importNifti);

  // One request at a time (SQLite): the preview first, then the metadata; otherwise both at once.
  if (maxInflight > 1) {
    loadPreview(function () {});
    loadMeta();
  } else {
    loadPreview(loadMeta);
  }
})();
