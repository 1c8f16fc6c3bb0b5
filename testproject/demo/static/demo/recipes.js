/* Recipes for JavaScript uploaders (docs/howto/browsers.md): ask the upload URL for its limit with
 * one OPTIONS request, then configure the uploader from the answer. The browser tests
 * (tests/browsers/test_browser_precheck.py) run each recipe in Chromium and Firefox. */
(function () {
  "use strict";

  // One OPTIONS request: Upload-Limit (draft-ietf-httpbis-resumable-upload), Accept-Post, JSON.
  async function discover(url) {
    var response = await fetch(url, { method: "OPTIONS", headers: { Accept: "application/json" } });
    var match = /(?:^|[,;\s])max-size=(\d+)/.exec(response.headers.get("Upload-Limit") || "");
    var doc = (await response.json()).upload;
    return {
      maxSize: match ? Number(match[1]) : null,
      maxSizeText: doc.max_size_text,
      requestTypes: (response.headers.get("Accept-Post") || "").split(/\s*,\s*/).filter(Boolean),
      fileTypes: doc.file_types, // null for multipart routes: their types describe the request
    };
  }

  function csrfToken() {
    var match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // fetch(): check the size first, then send; a refusal is a JSON document with the reason.
  async function fetchUpload(url, formData, totalFileSize) {
    var limits = await discover(url);
    if (limits.maxSize !== null && totalFileSize > limits.maxSize) {
      return { sent: false, reason: "larger than " + limits.maxSizeText };
    }
    var response = await fetch(url, {
      method: "POST", body: formData,
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
    return { sent: true, status: response.status, body: await response.json() };
  }

  // XMLHttpRequest: the same, with upload progress events.
  function xhrUpload(url, body, onProgress) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.upload.onprogress = function (e) { if (onProgress) onProgress(e.loaded, e.total); };
      xhr.onload = function () {
        var json = null;
        try { json = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        resolve({ status: xhr.status, body: json });
      };
      xhr.onerror = function () { resolve({ status: 0, body: null }); };
      xhr.send(body);
    });
  }

  // Uppy: restrictions from the route's limit (the limit covers the whole request body).
  async function uppyFor(url, fieldName) {
    var limits = await discover(url);
    var uppy = new window.Uppy.Uppy({
      restrictions: {
        maxFileSize: limits.maxSize,
        maxTotalFileSize: limits.maxSize,
        allowedFileTypes: limits.fileTypes, // null for multipart routes
      },
      // Uppy writes sizes in powers of 1024 labelled "MB" (5,000,000 bytes: "4.8 MB"): name the
      // limit the way the server does instead.
      locale: { strings: { exceedsSize: "%{file} exceeds maximum allowed size of " + limits.maxSizeText } },
    });
    uppy.use(window.Uppy.XHRUpload, {
      endpoint: url, fieldName: fieldName, formData: true,
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
    return uppy;
  }

  // FilePond: maxFileSize (bytes) from the route's limit, with its size-validation plugin.
  async function filePondFor(url, input) {
    var limits = await discover(url);
    window.FilePond.registerPlugin(window.FilePondPluginFileValidateSize);
    return window.FilePond.create(input, {
      maxFileSize: limits.maxSize,
      maxTotalFileSize: limits.maxSize,
      acceptedFileTypes: limits.fileTypes || [],
      labelMaxFileSize: "Maximum file size is " + limits.maxSizeText, // the server's wording
    });
  }

  window.uploadRecipes = {
    discover: discover, fetchUpload: fetchUpload, xhrUpload: xhrUpload,
    uppyFor: uppyFor, filePondFor: filePondFor, csrfToken: csrfToken,
  };
})();
