// The demo's Uppy + tus page (templates/demo/tus.html): one Uppy instance with the Tus plugin.
// The server decides the whole file at creation; a refusal's JSON reason ({"error": {"message"}})
// is shown as the page's status, so a person reads why before any byte of the file moved.
(function () {
  "use strict";
  function start() {
    var input = document.getElementById("tus-file");
    var status = document.getElementById("tus-status");
    var progress = document.getElementById("tus-progress");
    var show = function (text, state) {
      status.textContent = text;
      status.dataset.state = state;
      status.hidden = false;
    };
    var uppy = new window.Uppy.Uppy({ autoProceed: false });
    uppy.use(window.Uppy.Tus, {
      endpoint: input.dataset.endpoint,
      chunkSize: 1000000,
      retryDelays: [0, 1000, 3000, 5000],
      removeFingerprintOnSuccess: true,
    });
    uppy.on("upload-progress", function (file, p) {
      progress.hidden = false;
      progress.value = p.bytesTotal ? Math.floor((100 * p.bytesUploaded) / p.bytesTotal) : 0;
    });
    uppy.on("upload-success", function (file) {
      show("Uploaded " + file.name + ".", "done");
    });
    uppy.on("upload-error", function (file, error, response) {
      var reason = error && error.message ? error.message : String(error);
      var original = error && error.originalResponse;
      var body = original ? original.getBody() : response && response.body;
      if (!body) {
        // Uppy passes tus-js-client's error on as text: the response body is inside it.
        var found = /response text: (\{.*\}), request id/.exec(reason);
        body = found ? found[1] : null;
      }
      try {
        var parsed = typeof body === "string" ? JSON.parse(body) : body;
        if (parsed && parsed.error && parsed.error.message) reason = parsed.error.message;
      } catch (ignored) {
        // not the package's JSON error: keep Uppy's message
      }
      show("Not uploaded: " + reason + ".", "refused");
    });
    input.addEventListener("change", function () {
      uppy.cancelAll();
      status.hidden = true;
      progress.hidden = true;
      var file = input.files[0];
      if (!file) return;
      uppy.addFile({ name: file.name, type: file.type || "application/octet-stream", data: file });
      uppy.upload();
    });
    window.tusDemo = uppy;
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
