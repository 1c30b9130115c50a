// buffer-bridge dashboard: live job status by polling (no framework, no external asset).
(function () {
  "use strict";
  var POLL_MS = 1000;

  function pending() {
    var found = {};
    document.querySelectorAll("[data-job]").forEach(function (el) {
      var status = el.querySelector("[data-field=status]");
      var s = status ? status.textContent.trim() : "";
      if (s !== "succeeded" && s !== "failed") { found[el.getAttribute("data-job")] = el; }
    });
    return found;
  }

  function poll() {
    var waiting = pending();
    var ids = Object.keys(waiting);
    var holder = document.querySelector("[data-status-url]");
    if (!ids.length || !holder) { return; }
    var url = holder.getAttribute("data-status-url") + "?ids=" + ids.join(",");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        ids.forEach(function (id) {
          var job = body.jobs[id], el = waiting[id];
          if (!job) { return; }
          var status = el.querySelector("[data-field=status]");
          status.textContent = job.status;
          status.className = "status status-" + job.status;
          var text = el.querySelector("[data-field=text]");
          if (text && text.textContent !== job.text) { text.textContent = job.text; }
          var error = el.querySelector("[data-field=error]");
          if (error) { error.hidden = !job.error; error.textContent = job.error || ""; }
          var spinner = el.querySelector("[data-field=spinner]");
          if (spinner && job.finished) { spinner.remove(); }
        });
      })
      .catch(function () {})
      .then(function () { if (Object.keys(pending()).length) { setTimeout(poll, POLL_MS); } });
  }

  document.addEventListener("DOMContentLoaded", function () { setTimeout(poll, POLL_MS); });
})();
