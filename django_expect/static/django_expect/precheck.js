/* django-expect browser pre-check (docs/howto/browsers.md). No dependencies, no inline script.
 *
 * Reads the data-expect-* attributes that {% upload_limits %} (or add_upload_limits, or the
 * admin mixin) put on a <form> or on its <input type="file"> elements:
 *   data-expect-max-size        the route's limit in bytes (the whole request body)
 *   data-expect-max-size-text   the same limit as the server writes it ("5 MB", "5 MiB")
 *   data-expect-message         optional: the page's own words; {limit} and {size} are filled in
 *   data-expect-message-class   optional: class of the message element
 *   data-expect-message-after   optional: a selector; the message goes after the input's closest
 *                               match (the admin's ".flex-container"), else right after the input
 *   data-expect-types           raw-body routes only: accepted file types (becomes `accept`)
 * On change and on submit it blocks a file set whose size alone is over the limit: the request
 * body (files plus the multipart framing) is larger still, so the server would refuse it. It
 * never blocks anything smaller: the framing's size is not guessed, the server decides.
 * Without this script the form works as before; the server still refuses from the head.
 */
(function () {
  "use strict";

  var MAX = "data-expect-max-size";
  var ONE_FILE = "This file is {size}; the limit for this upload is {limit}.";
  var FILES = "These files are {size} together; the limit for this upload is {limit}.";
  var DEFAULT_CLASS = "expect-precheck-message";

  // Mirrors django_expect.core.format_size_as: the limit's unit system, rounded up to 0.1.
  var DECIMAL = [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
  var BINARY = [["TiB", 1099511627776], ["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024]];
  function formatSizeAs(size, limitText) {
    var units = /iB$/.test(limitText || "") ? BINARY : DECIMAL;
    for (var i = 0; i < units.length; i++) {
      if (size >= units[i][1]) {
        var tenths = Math.ceil((size * 10) / units[i][1]);
        var whole = Math.floor(tenths / 10), tenth = tenths % 10;
        return (tenth ? whole + "." + tenth : String(whole)) + " " + units[i][0];
      }
    }
    return size + " bytes";
  }

  // Mirrors django_expect.core.format_size: exact where possible ("5 MB", "5 MiB").
  function formatSize(size) {
    var units = BINARY.concat(DECIMAL);
    for (var i = 0; i < units.length; i++) {
      if (size >= units[i][1] && size % units[i][1] === 0) return size / units[i][1] + " " + units[i][0];
    }
    return size + " bytes";
  }

  function fileInputs(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.type === "file" && !el.disabled;
    });
  }

  // The element carrying the tightest limit among the form and its file inputs.
  function limitHolder(form, inputs) {
    var holder = null;
    [form].concat(inputs).forEach(function (el) {
      if (!el.hasAttribute(MAX)) return;
      var max = Number(el.getAttribute(MAX));
      if (!isFinite(max)) return;
      if (holder === null || max < Number(holder.getAttribute(MAX))) holder = el;
    });
    return holder;
  }

  function check(form) {
    var inputs = fileInputs(form);
    var holder = limitHolder(form, inputs);
    if (holder === null) return null;
    var total = 0, count = 0;
    inputs.forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) {
        total += file.size;
        count += 1;
      });
    });
    var max = Number(holder.getAttribute(MAX));
    var limitText = holder.getAttribute("data-expect-max-size-text") || max + " bytes";
    var words = holder.getAttribute("data-expect-message") || (count > 1 ? FILES : ONE_FILE);
    return {
      ok: total <= max,
      total: total,
      count: count,
      max: max,
      inputs: inputs,
      holder: holder,
      message: words.split("{limit}").join(limitText).split("{size}").join(formatSizeAs(total, limitText)),
    };
  }

  function messageElement(form, result, create) {
    var el = form.querySelector("[data-expect-precheck-message]");
    if (el || !create) return el;
    el = document.createElement("p");
    el.setAttribute("data-expect-precheck-message", "");
    el.setAttribute("role", "alert");
    el.id = (form.id || "form") + "-expect-precheck";
    el.className = result.holder.getAttribute("data-expect-message-class") || DEFAULT_CLASS;
    var last = result.inputs[result.inputs.length - 1];
    var after = result.holder.getAttribute("data-expect-message-after");
    var anchor = (after && last.closest(after)) || last;
    anchor.parentNode.insertBefore(el, anchor.nextSibling);
    return el;
  }

  function show(form) {
    var result = check(form);
    if (result === null) return true;
    var el = messageElement(form, result, !result.ok);
    result.inputs.forEach(function (input) {
      if (result.ok) {
        input.removeAttribute("aria-invalid");
      } else {
        input.setAttribute("aria-invalid", "true");
        if (el) input.setAttribute("aria-describedby", el.id);
      }
    });
    if (el) {
      el.textContent = result.ok ? "" : result.message;
      el.hidden = result.ok;
    }
    return result.ok;
  }

  function acceptFromTypes(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-expect-types]"), function (el) {
      var inputs = el.tagName === "INPUT" ? [el] : el.querySelectorAll('input[type="file"]');
      Array.prototype.forEach.call(inputs, function (input) {
        if (!input.hasAttribute("accept")) input.setAttribute("accept", el.getAttribute("data-expect-types"));
      });
    });
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input && input.type === "file" && input.form) show(input.form);
  }, true);

  // Capture phase on the document: runs before the page's own submit handlers (an XHR uploader)
  // and stops them when the files cannot pass.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || form.tagName !== "FORM" || show(form)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    var first = check(form).inputs[0];
    if (first) first.focus();
  }, true);

  function start() {
    acceptFromTypes(document);
    // Files chosen before the script ran (a back navigation restores them).
    Array.prototype.forEach.call(document.forms, function (form) {
      if (fileInputs(form).some(function (i) { return i.files && i.files.length; })) show(form);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  window.djangoExpectPrecheck = { check: check, formatSize: formatSize, formatSizeAs: formatSizeAs };
})();
