// Diagnosis form: keep the T/N/M suggestions in step with the chosen site and suggest the stage
// group. The server derives an empty stage and checks an entered one either way; this only
// saves typing. No patient data is sent: the site code and the categories are reference data.
(function () {
  "use strict";
  var form = document.querySelector("form[data-tnm-url]");
  if (!form) { return; }
  var url = form.getAttribute("data-tnm-url");
  var site = form.querySelector("[data-tnm-site]");
  var morphology = form.querySelector("[data-tnm-morphology]");
  var latest = { clinical: 0, pathological: 0 };

  function value(name) {
    var el = form.querySelector("[data-tnm-axis='" + name + "']");
    return el ? el.value.trim() : "";
  }

  function fillDatalists(categories) {
    ["t", "n", "m"].forEach(function (axis) {
      var list = document.getElementById("tnm-" + axis + "-options");
      if (!list) { return; }
      while (list.firstChild) { list.removeChild(list.firstChild); }
      (categories[axis] || []).forEach(function (code) {
        var option = document.createElement("option");
        option.value = code;
        list.appendChild(option);
      });
    });
  }

  function query(prefix) {
    var params = new URLSearchParams({
      site: site ? site.value : "",
      morphology: morphology ? morphology.value : "",
    });
    if (prefix) {
      params.set("t", value(prefix + ":t"));
      params.set("n", value(prefix + ":n"));
      params.set("m", value(prefix + ":m"));
    }
    return fetch(url + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (r) { return r.ok ? r.json() : null; });
  }

  function suggest(prefix) {
    var stage = form.querySelector("[data-tnm-stage='" + prefix + "']");
    var hint = document.getElementById("tnm-hint-" + prefix);
    if (!stage) { return; }
    // Answers can arrive out of order: only the one for the latest edit counts.
    var ticket = ++latest[prefix];
    query(prefix).then(function (data) {
      if (!data || ticket !== latest[prefix]) { return; }
      stage.setAttribute("placeholder", data.stage ? "Suggested: " + data.stage : "");
      if (hint) {
        hint.textContent = data.stage
          ? "Suggested " + prefix + " stage group: " + data.stage + " (used if left empty)."
          : "";
      }
    });
  }

  function siteChanged() {
    query("").then(function (data) { if (data) { fillDatalists(data.categories); } });
    suggest("clinical");
    suggest("pathological");
  }
  if (site) { site.addEventListener("change", siteChanged); }
  if (morphology) { morphology.addEventListener("change", siteChanged); }
  ["clinical", "pathological"].forEach(function (prefix) {
    ["t", "n", "m"].forEach(function (axis) {
      var el = form.querySelector("[data-tnm-axis='" + prefix + ":" + axis + "']");
      if (el) { el.addEventListener("change", function () { suggest(prefix); }); }
    });
  });
  if (!site || site.value) {
    suggest("clinical");
    suggest("pathological");
  }
})();
