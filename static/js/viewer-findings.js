// Screening findings in the series viewer (docs/screening.md, "Review in the viewer"): the
// series' latest finished screening, listed beside the image, a marker on the axial slice at
// each finding's centre (on its slice and the next one either side), a click on a finding jumps to its slice,
// and Confirm / Reject post the decision. It follows the viewer through the "viewer:draw"
// event and moves it with "viewer:goto" (static/js/viewer.js), as the fused display does.
(function () {
  "use strict";
  var root = document.getElementById("viewer");
  var panel = document.getElementById("viewer-findings");
  if (!root || !panel) { return; }
  var baseUrl = root.getAttribute("data-base-url");
  var stage = document.getElementById("viewer-stage");
  var base = document.getElementById("viewer-canvas");
  var listEl = document.getElementById("viewer-findings-list");
  var noteEl = document.getElementById("viewer-findings-note");
  var statusEl = document.getElementById("viewer-findings-status");
  var csrfEl = panel.querySelector("input[name=csrfmiddlewaretoken]");
  // A run keeps up to 100 findings: the list scrolls beside the image instead of the page.
  listEl.style.maxHeight = "14rem";
  listEl.style.overflowY = "auto";
  var wanted = new URLSearchParams(window.location.search).get("finding");
  var findings = [];
  var selected = null;
  var view = null; // last "viewer:draw" detail
  var markers = [];
  var jumped = false;

  var MARKED = 20;
  var LABELS = { pending: "awaiting review", confirmed: "confirmed", rejected: "rejected" };

  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", Boolean(isError));
  }

  function goTo(f) {
    selected = f.id;
    root.dispatchEvent(new CustomEvent("viewer:goto", {
      detail: { axis: "axial", index: f.centre_voxel[0] }
    }));
    renderList();
    var item = listEl.querySelector("li[aria-current]");
    if (item) { item.scrollIntoView({ block: "nearest" }); }
  }

  function review(f, decision) {
    var body = new FormData();
    body.append("decision", decision);
    setStatus("Saving…");
    fetch(f.review_url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfEl ? csrfEl.value : "", Accept: "application/json" }
    })
      .then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, data: data }; });
      })
      .then(function (res) {
        if (!res.ok) { setStatus(res.data.error || "The decision was not saved.", true); return; }
        findings.forEach(function (g, i) { if (g.id === res.data.id) { findings[i] = res.data; } });
        setStatus("Finding #" + res.data.rank + " " + LABELS[res.data.status] + ".");
        renderList();
        placeMarkers();
      })
      .catch(function () { setStatus("The viewer could not reach the server.", true); });
  }

  function button(text, cls, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button small " + cls;
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderList() {
    listEl.textContent = "";
    findings.forEach(function (f) {
      var li = document.createElement("li");
      li.setAttribute("data-finding", f.id);
      li.setAttribute("data-status", f.status);
      if (f.id === selected) {
        li.setAttribute("aria-current", "true");
        li.style.fontWeight = "bold";
      }
      var jump = button(
        "#" + f.rank + " · " + f.nodule_type_label + " · " + f.diameter_mm.toFixed(1) + " mm · slice " +
          (f.centre_voxel[0] + 1),
        "subtle viewer-finding-jump",
        function () { goTo(f); }
      );
      li.appendChild(jump);
      var tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = LABELS[f.status] || f.status;
      li.appendChild(tag);
      if (f.review_url) {
        if (f.status !== "confirmed") {
          li.appendChild(button("Confirm", "primary viewer-finding-confirm", function () { review(f, "confirm"); }));
        }
        if (f.status !== "rejected") {
          li.appendChild(button("Reject", "subtle viewer-finding-reject", function () { review(f, "reject"); }));
        }
      }
      listEl.appendChild(li);
    });
  }

  function clearMarkers() {
    markers.forEach(function (m) { m.remove(); });
    markers = [];
  }

  // Canvas pixels -> stage pixels: the canvas is scaled with object-fit: contain.
  function placeMarkers() {
    clearMarkers();
    if (!view || view.axis !== "axial" || !view.shape) { return; }
    var w = base.offsetWidth;
    var h = base.offsetHeight;
    var scale = Math.min(w / view.width, h / view.height);
    var ox = base.offsetLeft + (w - view.width * scale) / 2;
    var oy = base.offsetTop + (h - view.height * scale) / 2;
    var sx = view.width / view.shape.x;
    var sy = view.height / view.shape.y;
    findings.forEach(function (f) {
      var dz = Math.abs(f.centre_voxel[0] - view.index);
      // The best MARKED findings and the selected one: a hundred circles would hide the image.
      if (dz > 1 || (f.rank > MARKED && f.id !== selected)) { return; }
      var m = document.createElement("button");
      m.type = "button";
      m.className = "viewer-finding-marker";
      m.setAttribute("data-finding", f.id);
      m.setAttribute("data-status", f.status);
      m.setAttribute("aria-label", "Finding #" + f.rank + " (" + (LABELS[f.status] || f.status) + ")");
      m.textContent = String(f.rank);
      var colour = f.status === "confirmed" ? "#2dc653" : f.status === "rejected" ? "#adb5bd" : "#ffd60a";
      // A circle about 1.6 times the nodule's diameter on screen, at least 26 px.
      var mmPerPx = view.spacing ? view.spacing.x / (sx * scale) : 0;
      var size = Math.max(26, mmPerPx ? Math.round(1.6 * f.diameter_mm / mmPerPx) : 26);
      m.style.cssText = "position:absolute;width:" + size + "px;height:" + size + "px;border-radius:50%;" +
        "border:2px " + (dz === 0 ? "solid " : "dashed ") + colour + ";background:transparent;color:" +
        colour + ";font:bold 11px sans-serif;padding:0;cursor:pointer;" +
        (f.id === selected ? "box-shadow:0 0 0 3px rgba(255,255,255,0.6);" : "");
      m.style.left = (ox + (f.centre_voxel[2] + 0.5) * sx * scale - size / 2) + "px";
      m.style.top = (oy + (f.centre_voxel[1] + 0.5) * sy * scale - size / 2) + "px";
      m.addEventListener("mousedown", function (e) { e.stopPropagation(); });
      m.addEventListener("click", function (e) {
        e.stopPropagation();
        goTo(f);
      });
      stage.appendChild(m);
      markers.push(m);
    });
    root.setAttribute("data-finding-markers", String(markers.length));
  }

  root.addEventListener("viewer:draw", function (e) {
    view = e.detail;
    if (!jumped && wanted && findings.length) {
      jumped = true;
      var f = findings.filter(function (g) { return g.id === wanted; })[0];
      if (f && f.centre_voxel[0] !== view.index) { goTo(f); return; }
      if (f) { selected = f.id; renderList(); }
    }
    placeMarkers();
  });
  window.addEventListener("resize", placeMarkers);

  fetch(baseUrl + "findings.json", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data || !data.run) { return; }
      findings = data.findings;
      panel.hidden = false;
      noteEl.textContent = "Ranking: " + data.run.ranking_note + ". ";
      var link = document.createElement("a");
      link.href = data.run.url;
      link.textContent = "Screening run";
      noteEl.appendChild(link);
      renderList();
      root.setAttribute("data-findings", String(findings.length));
      if (view) {
        // The viewer drew before the findings arrived: jump now if a finding was asked for.
        root.dispatchEvent(new CustomEvent("viewer:draw", { detail: view }));
      }
    })
    .catch(function () { setStatus("The findings could not be loaded.", true); });
})();
