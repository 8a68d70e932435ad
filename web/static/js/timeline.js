/* The time slider of a thread page. Without JavaScript it is a form: pick a change and
   press "Show this moment" (the server redirects to ?at=<position>). With JavaScript,
   moving the slider shows the label of each change at once and loads the thread as it
   was at that change in place, keeping the address a permalink (?at=<position>). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-timeline]");
  if (!form) return;
  var range = form.querySelector("input[type=range]");
  var counter = form.querySelector("output");
  var label = form.querySelector(".timeline__point");
  var points = Array.prototype.slice.call(form.querySelectorAll(".timeline__points li"));
  var liveUrl = form.getAttribute("data-live-url");
  var last = Number(range.max);
  var loading = 0;
  var timer = null;

  function urlFor(index) {
    var url = new URL(liveUrl, window.location.href);
    if (index < last) {
      var point = points[index];
      if (point) url.searchParams.set("at", point.getAttribute("data-position"));
      else url.searchParams.set("step", String(index));
    }
    return url;
  }

  function describe(index) {
    counter.textContent = String(index + 1);
    var point = points[index];
    if (!point) return;
    var time = document.createElement("time");
    time.setAttribute("datetime", point.getAttribute("data-at"));
    time.textContent = point.getAttribute("data-readable");
    var words = " — " + point.textContent + (index === last ? " (now)" : "");
    label.replaceChildren(time, document.createTextNode(words));
  }

  function swap(page, selector) {
    var fresh = page.querySelector(selector);
    var old = document.querySelector(selector);
    if (fresh && old) old.replaceWith(document.importNode(fresh, true));
  }

  function show(index) {
    var url = urlFor(index);
    if (!points.length) {
      window.location.href = url.toString();
      return;
    }
    var ticket = ++loading;
    form.setAttribute("aria-busy", "true");
    fetch(url.toString(), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
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

  range.addEventListener("input", function () {
    var index = Number(range.value);
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
