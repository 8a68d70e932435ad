/* The time slider of a thread page. Without JavaScript it is a form: pick a change and
   press "Show this moment" (the server redirects ?step=<index> to ?at=<position>).
   With JavaScript, moving the slider shows the label of each change at once and loads
   the thread as it was at that change in place, keeping the address a permalink
   (?at=<position>).

   The page holds only the slider's range and the latest few change points; the others
   are read from the JSON API (GET /api/v1/threads/{id}/timeline, oldest first, in
   pages) when the slider box is first opened. Until a point is known the slider still
   works: the server turns ?step=<index> into its position. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-timeline]");
  if (!form) return;
  var range = form.querySelector("input[type=range]");
  var counter = form.querySelector("output");
  var label = form.querySelector(".timeline__point");
  var liveUrl = form.getAttribute("data-live-url");
  var apiUrl = form.getAttribute("data-api");
  var count = Number(form.getAttribute("data-count"));
  var last = Number(range.max);
  var loading = 0;
  var timer = null;
  var fetched = false;
  var MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
  ];
  var WORDS = {
    "Thread.Opened": "the thread was opened",
    "Thread.Retitled": "the thread was retitled",
    "Thread.Locked": "the thread was locked",
    "Thread.Unlocked": "the thread was unlocked",
    "Comment.Posted": "{who} posted comment {number}",
    "Comment.Edited": "{who} edited comment {number}",
    "Comment.Retracted": "{who} retracted comment {number}",
    "Comment.Hidden": "{who} removed comment {number}",
    "Comment.Restored": "{who} restored comment {number}",
  };

  // index -> {position, at (ISO), readable, label}
  var points = {};
  Array.prototype.forEach.call(form.querySelectorAll(".timeline__points li"), function (li) {
    points[Number(li.getAttribute("data-index"))] = {
      position: li.getAttribute("data-position"),
      at: li.getAttribute("data-at"),
      readable: li.getAttribute("data-readable"),
      label: li.textContent,
    };
  });

  function two(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function readable(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return (
      d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds()) + " UTC"
    );
  }

  function labelOf(entry) {
    var kind = entry.kind;
    var who = (entry.actor && entry.actor.name) || "someone";
    if (kind === "Comment.Hidden" || kind === "Comment.Restored") who = "a moderator";
    var shown = entry.comment_id && document.getElementById("c-" + entry.comment_id);
    var number = shown ? shown.getAttribute("data-number") : "";
    var words = (WORDS[kind] || kind).replace("{who}", who).replace("{number}", number).trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // Reads every change point, oldest first, a page at a time (once per page view).
  function fetchPoints() {
    if (fetched || !apiUrl || !window.fetch) return;
    fetched = true;
    var index = 0;
    function next(cursor) {
      var url = new URL(apiUrl, window.location.href);
      url.searchParams.set("limit", "500");
      if (cursor !== null) url.searchParams.set("cursor", String(cursor));
      fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (page) {
          (page.entries || []).forEach(function (entry) {
            if (!points[index]) {
              points[index] = {
                position: String(entry.position),
                at: entry.at,
                readable: readable(entry.at),
                label: labelOf(entry),
              };
            }
            index += 1;
          });
          if (Number(range.value) < index) describe(Number(range.value));
          if (page.next_cursor !== null && page.next_cursor !== undefined && index < count) {
            next(page.next_cursor);
          }
        })
        .catch(function () {
          /* the slider keeps working through ?step= */
        });
    }
    next(null);
  }

  function urlFor(index) {
    var url = new URL(liveUrl, window.location.href);
    if (index < last) {
      var point = points[index];
      if (point) url.searchParams.set("at", point.position);
      else url.searchParams.set("step", String(index));
    }
    return url;
  }

  function describe(index) {
    counter.textContent = String(index + 1);
    var point = points[index];
    if (!point) {
      label.textContent = "Change " + (index + 1) + " of " + count;
      return;
    }
    var time = document.createElement("time");
    time.setAttribute("datetime", point.at);
    time.textContent = point.readable;
    var words = " — " + point.label + (index === last ? " (now)" : "");
    label.replaceChildren(time, document.createTextNode(words));
  }

  function swap(page, selector) {
    var fresh = page.querySelector(selector);
    var old = document.querySelector(selector);
    if (fresh && old) old.replaceWith(document.importNode(fresh, true));
  }

  function show(index) {
    var url = urlFor(index);
    if (!window.fetch) {
      window.location.href = url.toString();
      return;
    }
    var ticket = ++loading;
    form.setAttribute("aria-busy", "true");
    fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        // ?step= is redirected to ?at=<position>: keep the permalink.
        if (response.redirected && response.url) url = new URL(response.url);
        return response.text();
      })
      .then(function (html) {
        if (ticket !== loading) return; // a later move won
        var page = new DOMParser().parseFromString(html, "text/html");
        swap(page, "[data-thread-view]");
        swap(page, "[data-comments]");
        window.history.replaceState(null, "", url.pathname + url.search + "#timeline");
        if (window.Discuss && window.Discuss.refreshTimes) window.Discuss.refreshTimes(document);
        form.removeAttribute("aria-busy");
      })
      .catch(function () {
        window.location.href = url.toString();
      });
  }

  var box = form.closest("details");
  if (box) {
    if (box.open) fetchPoints();
    box.addEventListener("toggle", function () {
      if (box.open) fetchPoints();
    });
  }

  range.addEventListener("input", function () {
    var index = Number(range.value);
    fetchPoints();
    describe(index);
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      show(index);
    }, 250);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    show(Number(range.value));
  });
})();
