/* Inline forms: "Reply", "Edit", "Retract", "Remove", "Restore" links lead to pages
   with a form (which is how they work without JavaScript). With JavaScript, the form
   of that page is fetched and shown right under the comment instead. The form posts
   as usual, so errors and redirects behave exactly as without this script. Also: a
   fragment that names a form field (#new-comment-text) puts the cursor in it. */
(function () {
  "use strict";

  function close(slot) {
    var opener = slot.openedBy;
    slot.replaceChildren();
    slot.removeAttribute("data-open");
    if (opener) {
      opener.setAttribute("aria-expanded", "false");
      opener.focus();
    }
    slot.openedBy = null;
  }

  function open(link, slot) {
    return fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || /\/signin/.test(response.url)) throw new Error("no form here");
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var form = page.querySelector("form.action-form");
        if (!form) throw new Error("no form here");
        if (slot.openedBy) slot.openedBy.setAttribute("aria-expanded", "false");
        slot.replaceChildren(document.importNode(form, true));
        slot.setAttribute("data-open", link.href);
        slot.openedBy = link;
        link.setAttribute("aria-expanded", "true");
        var first = slot.querySelector("textarea, input[type=text]");
        if (first) {
          first.focus();
          if (first.tagName === "TEXTAREA") {
            first.setSelectionRange(first.value.length, first.value.length);
          }
        }
      });
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    var cancel = target.closest("[data-inline-slot] [data-cancel]");
    if (cancel) {
      event.preventDefault();
      close(cancel.closest("[data-inline-slot]"));
      return;
    }

    var link = target.closest("a[data-inline]");
    if (!link) return;
    var card = link.closest(".comment__card");
    var slot = card && card.querySelector("[data-inline-slot]");
    if (!slot) return;
    event.preventDefault();
    if (slot.getAttribute("data-open") === link.href) {
      close(slot);
      return;
    }
    open(link, slot).catch(function () {
      window.location.href = link.href; // fall back to the form's own page
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var slot = event.target instanceof Element && event.target.closest("[data-inline-slot]");
    if (slot) close(slot);
  });

  // Sending twice posts once anyway (each form has a client key); this just says so.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
    var button = form.querySelector("button[type=submit]");
    if (button && !button.disabled) {
      window.setTimeout(function () {
        button.disabled = true;
        button.textContent = "Sending…";
      }, 0);
    }
  });

  // Briefly highlight the comment a link or a redirect pointed at.
  function flash() {
    var id = window.location.hash.slice(1);
    if (!/^c-[0-9a-f-]+$/.test(id)) return;
    var node = document.getElementById(id);
    if (!node) return;
    node.classList.add("comment--flash");
    window.setTimeout(function () {
      node.classList.remove("comment--flash");
    }, 2500);
  }
  flash();
  window.addEventListener("hashchange", flash);

  // "Write a comment" and the return from "Sign in to join" point at the comment
  // form's text box: put the cursor there (browsers that only scroll to a fragment
  // leave the focus behind).
  function focusField() {
    var id;
    try {
      id = decodeURIComponent(window.location.hash.slice(1));
    } catch (error) {
      return; // not a fragment this page made
    }
    var field = id && document.getElementById(id);
    if (field && field.matches("textarea, input, select") && document.activeElement !== field) {
      field.focus();
    }
  }
  focusField();
  window.addEventListener("hashchange", focusField);
})();
