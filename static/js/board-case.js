// Keyboard shortcuts and projector mode of the tumour-board case page (docs/board.md).
// Single keys jump to a panel or follow a link marked data-shortcut; they are ignored while a
// text field, a select or a button with its own keys has focus, and with Ctrl/Alt/Meta held.
(function () {
  "use strict";
  var PROJECTOR_KEY = "onco-board-projector";

  function typing(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function focusPanel(letter) {
    var panel = document.querySelector('[data-panel="' + letter + '"]');
    if (!panel) return false;
    var heading = panel.querySelector("h1, h2");
    panel.scrollIntoView({ block: "start" });
    if (heading) {
      if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    return true;
  }

  function setProjector(on) {
    document.documentElement.classList.toggle("projector", on);
    var button = document.getElementById("projector-toggle");
    if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
    try { window.localStorage.setItem(PROJECTOR_KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var stored = null;
    try { stored = window.localStorage.getItem(PROJECTOR_KEY); } catch (e) { stored = null; }
    setProjector(stored === "1");
    var toggle = document.getElementById("projector-toggle");
    if (toggle) {
      toggle.addEventListener("click", function () {
        setProjector(!document.documentElement.classList.contains("projector"));
      });
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    var key = event.key;
    if (key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) {
        help.open = !help.open;
        help.querySelector("summary").focus();
        event.preventDefault();
      }
      return;
    }
    if (key.length !== 1) return;
    var link = document.querySelector('[data-shortcut="' + key + '"]');
    if (link) {
      event.preventDefault();
      link.click();
      return;
    }
    if (focusPanel(key)) event.preventDefault();
  });
})();
