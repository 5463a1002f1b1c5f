// Keyboard shortcuts of the tumour-board case page (docs/board.md). Single keys jump to a
// panel or follow a link marked data-shortcut; "x" presses the header's projector-mode button
// (static/js/contrast.js). Ignored while a text field or a select has focus, and with
// Ctrl/Alt/Meta held, so typing and the browser's own shortcuts are untouched.
(function () {
  "use strict";

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
    var target = key === "x"
      ? document.querySelector("[data-projector-toggle]")
      : document.querySelector('[data-shortcut="' + key + '"]');
    if (target) {
      event.preventDefault();
      target.click();
      return;
    }
    if (focusPanel(key)) event.preventDefault();
  });
})();
