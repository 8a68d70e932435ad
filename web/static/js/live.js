/* Live updates of a thread page: a Server-Sent Events stream of the thread's changes
   (GET /api/v1/threads/{id}/events, from the position the page was rendered at). New
   comments are counted in a banner, "2 new comments — show"; "show" fetches each one
   as the "continue this thread" page renders it (so it looks and behaves exactly like
   the others) and inserts it in place: a reply under its parent, a comment at the end.
   Without JavaScript the page is the same, without the banner: reload to see more.
   The browser reconnects by itself, sending Last-Event-ID, so nothing is missed. */
(function () {
  "use strict";

  var section = document.querySelector("[data-comments][data-live]");
  if (!section || !window.EventSource || !window.fetch) return;

  var pending = [];
  var banner = document.createElement("div");
  banner.className = "live-banner";
  banner.setAttribute("role", "status");
  banner.hidden = true;
  var words = document.createElement("span");
  var show = document.createElement("button");
  show.type = "button";
  show.className = "button-link live-banner__show";
  show.textContent = "show";
  banner.append(words, " — ", show);
  var title = section.querySelector(".comments__title");
  title.after(banner);

  function onPage(id) {
    return document.getElementById("c-" + id) !== null;
  }

  function update() {
    pending = pending.filter(function (c) { return !onPage(c.id); });
    banner.hidden = pending.length === 0;
    words.textContent = pending.length + (pending.length === 1 ? " new comment" : " new comments");
  }

  function listFor(comment) {
    if (!comment.parent_id) {
      var list = section.querySelector("ol.comment-list");
      if (!list) {
        list = document.createElement("ol");
        list.className = "comment-list";
        var empty = section.querySelector("p.empty");
        if (empty) empty.replaceWith(list); else title.after(list);
      }
      return list;
    }
    var parent = document.getElementById("c-" + comment.parent_id);
    if (!parent) return null;
    var replies = parent.querySelector(":scope > ol.replies");
    if (!replies) {
      replies = document.createElement("ol");
      replies.className = "replies";
      parent.querySelector(":scope > .comment__card").after(replies);
    }
    return replies;
  }

  function fetchComment(comment) {
    var url = section.dataset.subtree.replace("00000000-0000-0000-0000-000000000000", comment.id);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("comment page " + response.status);
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        return page.getElementById("c-" + comment.id);
      });
  }

  function showAll() {
    var todo = pending.slice();
    // In posting order, so that a parent is in place before its replies.
    return todo.reduce(function (done, comment) {
      return done.then(function () {
        if (onPage(comment.id)) return null;
        return fetchComment(comment).then(function (item) {
          var list = listFor(comment);
          if (item && list && !onPage(comment.id)) {
            list.append(document.importNode(item, true));
          }
        });
      });
    }, Promise.resolve()).then(update, update);
  }

  show.addEventListener("click", function () {
    showAll();
  });

  var source = new EventSource(section.dataset.live);
  source.addEventListener("comment.posted", function (event) {
    var change = JSON.parse(event.data);
    if (!change.comment || onPage(change.comment_id)) return;
    pending.push({ id: change.comment_id, parent_id: change.parent_id });
    update();
  });
})();
