// Tandem console: small conveniences on pages that work without them. No inline script (the
// CSP forbids it): pages mark elements with data- attributes and this file wires them.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Copy buttons: <button data-copy="ID"> copies the text of #ID. Hidden until this runs,
  // because without script they could not work.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.dataset.copy);
    if (!target) return;
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      var copied = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      var fallback = function () {
        target.focus();
        target.select();
        try {
          if (document.execCommand("copy")) copied();
        } catch (e) { /* selected: the admin copies by hand */ }
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.value || target.textContent).then(copied, fallback);
      } else {
        fallback();
      }
    });
  });

  // A textarea with data-fill-from-fragment="code" takes #code=… from the address, so a
  // "Go to remote" link can carry an invitation code without sending it to the server in a URL.
  document.querySelectorAll("[data-fill-from-fragment]").forEach(function (field) {
    var key = field.dataset.fillFromFragment + "=";
    var fragment = window.location.hash.replace(/^#/, "");
    fragment.split("&").forEach(function (part) {
      if (part.indexOf(key) === 0 && !field.value) {
        field.value = decodeURIComponent(part.slice(key.length));
      }
    });
  });

  // A sign-in form keeps the address's #fragment: "Go to remote" opens the remote's Accept
  // invitation page with #code=…, the remote sends a browser without a session to sign in
  // first (a redirect keeps the fragment), and the form posts to an address with it, so the
  // redirect after signing in lands on the Accept page with the code still there.
  document.querySelectorAll("form[data-keep-fragment]").forEach(function (form) {
    if (window.location.hash) form.action = form.getAttribute("action") + window.location.hash;
  });

  // The connection name follows the short names (local_to_remote) until the admin edits it.
  document.querySelectorAll("input[data-default-name]").forEach(function (name) {
    var form = name.form;
    var local = form.elements.namedItem("local_short_name");
    var remote = form.elements.namedItem("remote_short_name");
    if (!local || !remote) return;
    var derived = function () {
      return local.value.trim() + "_to_" + remote.value.trim();
    };
    var following = name.value === "" || name.value === derived();
    name.addEventListener("input", function () { following = name.value === derived(); });
    var follow = function () {
      if (following && local.value.trim() && remote.value.trim()) name.value = derived();
    };
    local.addEventListener("input", follow);
    remote.addEventListener("input", follow);
  });

  // Forms with data-confirm ask before they post (Delete).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
