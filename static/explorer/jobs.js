// Pharos: live job progress on the jobs list and a job's page.
// Each element marked [data-job][data-job-live] (a Pending or Running job) asks GET /jobs/{id}
// (the REST API, answered for the browser's session too) every second and updates its
// progress bar and counts. When a job changes state the page is loaded again, so that its
// buttons, timestamps and errors come from the server as they do on a first visit.
(function () {
  "use strict";

  var INTERVAL_MS = 1000;
  var LIVE = ["Pending", "Running", "Retry"];

  function setProgress(root, percent) {
    var bar = root.querySelector("[role=progressbar]");
    var fill = root.querySelector("[data-progress-bar]");
    var text = root.querySelector("[data-job-progress]");
    if (bar) bar.setAttribute("aria-valuenow", String(percent));
    if (fill) fill.style.width = percent + "%";
    if (text) text.textContent = percent + "%";
  }

  function setCounts(root, content) {
    var cell = root.querySelector("[data-job-counts]");
    if (!cell || !content || typeof content.InstancesCount !== "number") return;
    var failed = content.FailedInstancesCount || 0;
    cell.textContent = String(content.InstancesCount);
    if (failed) {
      var note = document.createElement("span");
      note.className = "error";
      note.textContent = " (" + failed + " failed)";
      cell.appendChild(note);
    }
  }

  function ask(root) {
    return fetch("/jobs/" + encodeURIComponent(root.dataset.job), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).catch(function () { return null; });
  }

  function watch(roots) {
    var stateChanged = false;
    Promise.all(roots.map(function (root) {
      return ask(root).then(function (job) {
        if (!job) return;
        setProgress(root, job.Progress);
        setCounts(root, job.Content);
        if (job.State !== root.dataset.jobState) stateChanged = true;
      });
    })).then(function () {
      if (stateChanged) {
        window.location.reload();
        return;
      }
      // The next round starts once this one has answered: a slow server never gets a queue.
      setTimeout(function () { watch(roots); }, INTERVAL_MS);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var roots = Array.prototype.filter.call(document.querySelectorAll("[data-job][data-job-live]"), function (root) {
      return LIVE.indexOf(root.dataset.jobState) !== -1;
    });
    if (roots.length) setTimeout(function () { watch(roots); }, INTERVAL_MS);
  });
})();
