// Pharos: the upload page with JavaScript. Files chosen with either picker or dropped on
// the page (folders included) wait in a list; "Start the upload" sends each one with its
// own POST /instances (the REST API, with the page's CSRF token since the browser uses its
// session), three at a time as Orthanc Explorer does, and lists what the server answered
// for each file (a ZIP archive answers for each of its members). Without JavaScript the
// same form posts every file at once to the upload page, which answers with the same list.
(function () {
  "use strict";

  var CONCURRENT_UPLOADS = 3;
  var STATUS = {
    Success: ["Stored", "status-success"],
    AlreadyStored: ["Already stored", "status-neutral"],
    Failure: ["Rejected", "status-failure"],
  };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ------------------------------------------------------------ collecting files

  function isHidden(name) {
    return name.split("/").pop().charAt(0) === ".";
  }

  // Every file below a dropped folder entry, with its path inside the drop.
  function filesOfEntry(entry) {
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { resolve([{ file: file, name: entry.fullPath.replace(/^\//, "") }]); },
          function () { resolve([]); });
      });
    }
    if (!entry.isDirectory) return Promise.resolve([]);
    var reader = entry.createReader();
    var found = [];
    return new Promise(function (resolve) {
      // readEntries answers in batches until it answers an empty one.
      function readBatch() {
        reader.readEntries(function (entries) {
          if (!entries.length) {
            Promise.all(found).then(function (lists) { resolve([].concat.apply([], lists)); });
            return;
          }
          entries.forEach(function (child) {
            if (!isHidden(child.name)) found.push(filesOfEntry(child));
          });
          readBatch();
        }, function () { resolve([]); });
      }
      readBatch();
    });
  }

  function droppedFiles(dataTransfer) {
    var items = dataTransfer.items;
    var entries = [];
    if (items && items.length && typeof items[0].webkitGetAsEntry === "function") {
      entries = Array.prototype.map.call(items, function (item) { return item.webkitGetAsEntry(); }).filter(Boolean);
    }
    // Entries let a dropped folder be walked; files made by a script have none.
    if (entries.length) {
      return Promise.all(entries.map(filesOfEntry)).then(function (lists) {
        return [].concat.apply([], lists);
      });
    }
    return Promise.resolve(Array.prototype.map.call(dataTransfer.files, function (file) {
      return { file: file, name: file.name };
    }));
  }

  function pickedFiles(input) {
    return Array.prototype.filter.call(input.files, function (file) {
      return !(file.webkitRelativePath && isHidden(file.webkitRelativePath));
    }).map(function (file) {
      return { file: file, name: file.webkitRelativePath || file.name };
    });
  }

  // ------------------------------------------------------------ the page

  function UploadPage(form) {
    var section = document.querySelector("[data-upload-results-section]");
    var results = document.querySelector("[data-upload-results]");
    var summary = document.querySelector("[data-upload-summary]");
    var pendingText = form.querySelector("[data-upload-pending]");
    var start = form.querySelector("[data-upload-start]");
    var clear = form.querySelector("[data-upload-clear]");
    var progress = form.querySelector("[data-upload-progress]");
    var bar = progress.querySelector("[role=progressbar]");
    var fill = progress.querySelector("[data-progress-bar]");
    var progressText = form.querySelector("[data-upload-progress-text]");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    var pending = [];
    var counts = { Success: 0, AlreadyStored: 0, Failure: 0 };
    var batch = null;

    function showPending() {
      var size = pending.reduce(function (sum, item) { return sum + item.file.size; }, 0);
      pendingText.textContent = pending.length
        ? pending.length + " file" + (pending.length > 1 ? "s" : "") + " ready (" + readableSize(size) + ")"
        : "";
      clear.hidden = !pending.length;
      start.disabled = !pending.length || batch !== null;
    }

    function addRow(name) {
      var row = el("tr");
      row.appendChild(el("td", "file-name", name));
      var result = el("td");
      result.appendChild(el("span", "status status-pending", "Waiting"));
      row.appendChild(result);
      row.appendChild(el("td", "muted"));
      results.appendChild(row);
      section.hidden = false;
      return row;
    }

    function showAnswer(row, answer) {
      var status = STATUS[answer.Status] ? answer.Status : "Failure";
      counts[status] += 1;
      var cells = row.children;
      cells[0].textContent = answer.Filename || cells[0].textContent;
      cells[1].textContent = "";
      cells[1].appendChild(el("span", "status " + STATUS[status][1], STATUS[status][0]));
      cells[2].textContent = "";
      cells[2].className = "";
      if (status === "Failure") {
        cells[2].textContent = answer.Details || answer.Message || "Refused by the server";
      } else if (answer.ParentStudy) {
        var link = el("a", "", "Open the study");
        link.href = "/ui/studies/" + encodeURIComponent(answer.ParentStudy);
        cells[2].appendChild(link);
      }
      summary.textContent = counts.Success + " stored, " + counts.AlreadyStored + " already stored, " +
        counts.Failure + " rejected";
    }

    function insertAfter(reference, row) {
      reference.parentNode.insertBefore(row, reference.nextSibling);
      return row;
    }

    // A ZIP archive answers for each member: the first takes the archive's row, the others
    // get rows of their own, named "archive.zip/member".
    function showArchiveAnswers(row, item, answers) {
      if (!answers.length) {
        showAnswer(row, { Status: "Failure", Filename: item.name, Details: "The archive holds no file" });
        return;
      }
      var last = row;
      answers.forEach(function (answer, index) {
        var named = Object.assign({}, answer, { Filename: item.name + "/" + (answer.Filename || "") });
        var target = index === 0 ? row : insertAfter(last, addRow(named.Filename));
        showAnswer(target, named);
        last = target;
      });
    }

    // What the server said of one file: Orthanc's answer, a list of them for a ZIP archive,
    // or an error (Orthanc's error object, or none when the server could not be reached).
    function showResponse(xhr, row, item) {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = null; }
      if (Array.isArray(body)) {
        showArchiveAnswers(row, item, body);
        return;
      }
      if (body && body.Status) {
        showAnswer(row, Object.assign({}, body, { Filename: item.name }));
        return;
      }
      var reason = body && (body.Details || body.Message);
      if (!reason) {
        reason = xhr.status === 401 || xhr.status === 403
          ? "Not allowed: log in again (HTTP " + xhr.status + ")"
          : xhr.status ? "The server answered HTTP " + xhr.status : "The server could not be reached";
      }
      showAnswer(row, { Status: "Failure", Filename: item.name, Details: reason });
    }

    function send(item, row, onProgress) {
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        // report-failures: a ZIP archive answers for its rejected members too (Orthanc leaves them out).
        xhr.open("POST", "/instances?report-failures");
        xhr.setRequestHeader("X-CSRFToken", token);
        xhr.setRequestHeader("Accept", "application/json");
        xhr.setRequestHeader("Content-Type", item.file.type === "application/zip" ? "application/zip" : "application/dicom");
        xhr.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) onProgress(event.loaded);
        });
        xhr.addEventListener("loadend", function () {
          onProgress(item.file.size);
          showResponse(xhr, row, item);
          resolve();
        });
        row.children[1].firstChild.textContent = "Sending";
        xhr.send(item.file);
      });
    }

    function setProgress(done, total) {
      var percent = total ? Math.min(100, Math.floor(done * 100 / total)) : 100;
      bar.setAttribute("aria-valuenow", String(percent));
      fill.style.width = percent + "%";
      progressText.textContent = percent + "%";
    }

    function run(items) {
      var rows = items.map(function (item) { return addRow(item.name); });
      var total = items.reduce(function (sum, item) { return sum + item.file.size; }, 0);
      var sent = items.map(function () { return 0; });
      var next = 0;
      progress.hidden = false;
      setProgress(0, total);
      function report() { setProgress(sent.reduce(function (a, b) { return a + b; }, 0), total); }
      function worker() {
        if (next >= items.length) return Promise.resolve();
        var index = next++;
        return send(items[index], rows[index], function (loaded) {
          sent[index] = loaded;
          report();
        }).then(worker);
      }
      var workers = [];
      for (var i = 0; i < Math.min(CONCURRENT_UPLOADS, items.length); i++) workers.push(worker());
      return Promise.all(workers).then(function () { setProgress(total, total); });
    }

    function add(items) {
      pending = pending.concat(items);
      showPending();
    }

    form.querySelectorAll("[data-upload-input]").forEach(function (input) {
      input.addEventListener("change", function () {
        add(pickedFiles(input));
        input.value = "";  // chosen files move to the pending list; the same ones can be chosen again
      });
    });

    var zone = form.querySelector("[data-drop-zone]");
    ["dragenter", "dragover"].forEach(function (type) {
      document.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "dragend"].forEach(function (type) {
      document.addEventListener(type, function (event) {
        if (event.target === document.documentElement || event.target === zone) zone.classList.remove("dragging");
      });
    });
    document.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      droppedFiles(event.dataTransfer).then(add);
    });

    clear.addEventListener("click", function () {
      pending = [];
      showPending();
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!pending.length || batch !== null) return;
      var items = pending;
      pending = [];
      batch = run(items).then(function () {
        batch = null;
        showPending();
      });
      showPending();
    });

    showPending();
  }

  function readableSize(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-upload]");
    if (form && window.XMLHttpRequest && window.Promise) UploadPage(form);
  });
})();
