/* Relative times: <time datetime="…" data-relative> shows "3 minutes ago" (the server
   rendered a readable absolute date, so the page reads fine without this script), and
   its title keeps the exact local time for hovering. Also marks <html class="js">. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var UNITS = [
    ["year", 31536000],
    ["month", 2592000],
    ["week", 604800],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  var RELATIVE_FOR = 30 * 86400; // beyond a month, a date says more than "2 years ago"
  var rtf =
    window.Intl && Intl.RelativeTimeFormat
      ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" })
      : null;

  function relative(date, now) {
    var seconds = Math.round((date.getTime() - now) / 1000);
    var size = Math.abs(seconds);
    if (size < 45) return "just now";
    if (size > RELATIVE_FOR) {
      return date.toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" });
    }
    for (var i = 0; i < UNITS.length; i++) {
      var unit = UNITS[i][0];
      var length = UNITS[i][1];
      if (size >= length || unit === "minute") {
        var count = Math.round(seconds / length);
        if (rtf) return rtf.format(count, unit);
        var n = Math.abs(count);
        var words = n + " " + unit + (n === 1 ? "" : "s");
        return count < 0 ? words + " ago" : "in " + words;
      }
    }
    return date.toLocaleString();
  }

  function exact(date) {
    try {
      return date.toLocaleString(undefined, { dateStyle: "full", timeStyle: "long" });
    } catch (e) {
      return date.toString();
    }
  }

  function refresh(root) {
    var now = Date.now();
    var nodes = (root || document).querySelectorAll("time[data-relative]");
    Array.prototype.forEach.call(nodes, function (node) {
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      node.textContent = relative(date, now);
      node.title = exact(date);
    });
  }

  window.Discuss = window.Discuss || {};
  window.Discuss.refreshTimes = refresh;
  refresh(document);
  window.setInterval(function () {
    refresh(document);
  }, 60000);
})();
