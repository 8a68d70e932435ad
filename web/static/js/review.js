// The review queue by keyboard (web/templates/review.html works without it):
// j / k move between held comments, x ticks the current one, a / r approve or reject it.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll("[data-review-item]"));
  if (!items.length) return;
  var current = -1;

  function focus(i) {
    if (i < 0 || i >= items.length) return;
    if (current >= 0) items[current].classList.remove("review__item--current");
    current = i;
    items[i].classList.add("review__item--current");
    items[i].focus();
    items[i].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) && target.type !== "checkbox") return;
    var item = current >= 0 ? items[current] : null;
    if (event.key === "j") { focus(current + 1); event.preventDefault(); }
    else if (event.key === "k") { focus(current - 1); event.preventDefault(); }
    else if (event.key === "x" && item) {
      var tick = item.querySelector("[data-review-tick]");
      tick.checked = !tick.checked;
      event.preventDefault();
    } else if ((event.key === "a" || event.key === "r") && item) {
      item.querySelector(event.key === "a" ? "[data-review-approve]" : "[data-review-reject]").click();
      event.preventDefault();
    }
  });
})();
