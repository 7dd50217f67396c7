/* Progressive enhancement only: countdowns tick. Every page works without this file. */
(function () {
  "use strict";
  function fmt(s) {
    s = Math.floor(Math.abs(s));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min";
  }
  var els = document.querySelectorAll("[data-deadline][data-now]");
  if (!els.length) return;
  var loaded = Date.now();
  function tick() {
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      // Server time at render + time elapsed here: a wrong phone clock does not matter.
      var left = (Date.parse(el.getAttribute("data-deadline")) - Date.parse(el.getAttribute("data-now")) - (Date.now() - loaded)) / 1000;
      el.textContent = left > 0 ? fmt(left) : (el.getAttribute("data-over") || "0 min");
    }
  }
  tick();
  setInterval(tick, 30000);
})();
