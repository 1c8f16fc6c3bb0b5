/* The demo's upload page: send the form with XHR to show a progress bar, and the server's reason
 * when it refuses. django_expect/precheck.js runs first (capture phase) and stops this handler
 * when the file cannot pass; without scripts the form posts as a plain HTML form. */
(function () {
  "use strict";
  function start() {
    var form = document.getElementById("document-form");
    if (!form || !window.FormData || !window.XMLHttpRequest) return;
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var button = form.querySelector('button[type="submit"]');

    function say(text, cls) {
      status.textContent = text;
      status.className = cls;
      status.hidden = false;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) bar.value = Math.floor((e.loaded / e.total) * 100);
      });
      xhr.addEventListener("load", function () {
        button.disabled = false;
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 200) {
          bar.value = 100;
          say("Stored " + body.stored + " (" + body.size + " bytes).", "done");
          form.reset();
        } else if (body.error) {
          // The server's reason (its limit may be newer than this page's: an override).
          var error = body.error, reason = error.message;
          if (error.code === "content_too_large" && error.limit) {
            var pre = window.djangoExpectPrecheck;
            reason = "the limit for this upload is " + (pre ? pre.formatSize(error.limit) : error.limit + " bytes");
          }
          say("The server refused the upload: " + reason + " (HTTP " + xhr.status + ").", "refused");
        } else if (body.errors) {
          var messages = [];
          Object.keys(body.errors).forEach(function (k) {
            body.errors[k].forEach(function (e) { messages.push(e.message); });
          });
          say(messages.join(" "), "refused");
        } else {
          say("The upload failed (" + xhr.status + ").", "refused");
        }
      });
      xhr.addEventListener("error", function () {
        button.disabled = false;
        say("The connection failed before the server answered.", "refused");
      });
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      say("Uploading…", "");
      xhr.send(new FormData(form));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
