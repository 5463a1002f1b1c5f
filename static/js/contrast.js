/* Projector mode: high contrast and large type (static/css/contrast.css), toggled by the
 * header button and remembered in localStorage. Loaded in <head> without defer so the class is
 * on <html> before the first paint (no flash of the normal theme on a projector). */
(function () {
  "use strict";
  var KEY = "oncoboard.projector";
  var root = document.documentElement;

  function stored() {
    try { return window.localStorage.getItem(KEY) === "on"; } catch (e) { return false; }
  }

  function apply(on) {
    root.classList.toggle("projector", on);
    document.querySelectorAll("[data-projector-toggle]").forEach(function (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  apply(stored());

  function init() {
    apply(stored());
    document.querySelectorAll("[data-projector-toggle]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var on = !root.classList.contains("projector");
        try { window.localStorage.setItem(KEY, on ? "on" : "off"); } catch (e) { /* private mode: this page only */ }
        apply(on);
        document.dispatchEvent(new CustomEvent("projectorchange", { detail: { on: on } }));
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
