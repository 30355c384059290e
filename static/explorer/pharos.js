// Pharos: small enhancements on top of pages that work without JavaScript.
// - delete buttons open a <dialog> instead of going to the confirmation page;
// - the study date's "from/to" boxes show only for "Between…";
// - the series scroller (also stepped by the keyboard) and the instance's frames (with a cine
//   play button); the window preset of their pictures, changed in place;
// - the tag tree: expand all, collapse all, filter;
// - "Retrieve…" buttons of remote answers open one shared dialog instead of the retrieve page.
(function () {
  "use strict";

  function setUpDialogs() {
    document.querySelectorAll("[data-dialog]").forEach(function (opener) {
      var dialog = document.getElementById(opener.dataset.dialog);
      if (!dialog || typeof dialog.showModal !== "function") return;
      opener.addEventListener("click", function (event) {
        event.preventDefault();
        dialog.showModal();
      });
      dialog.querySelectorAll("[data-close-dialog]").forEach(function (button) {
        button.addEventListener("click", function () { dialog.close(); });
      });
    });
  }

  function setUpDateFilters() {
    document.querySelectorAll("[data-date-filter]").forEach(function (fieldset) {
      var preset = fieldset.querySelector("select");
      var range = fieldset.querySelector("[data-date-range]");
      if (!preset || !range) return;
      var hasDates = Array.prototype.some.call(range.querySelectorAll("input"), function (input) { return input.value; });
      if (hasDates && !preset.value) preset.value = "range";
      function update() { range.hidden = preset.value !== "range"; }
      preset.addEventListener("change", update);
      update();
    });
  }

  // The window preset of the page's pictures: the /rendered query of the chosen preset, which
  // each picture's URL ends with. Links to other instances carry ?window= so that the next
  // page keeps the preset, and so does this page's own URL (a reload keeps it too).
  var windowing = { query: "", key: "", listeners: [] };

  function keepWindow(link) {
    var url = new URL(link.getAttribute("href"), window.location.href);
    if (windowing.key) url.searchParams.set("window", windowing.key);
    else url.searchParams.delete("window");
    link.setAttribute("href", url.pathname + url.search);
  }

  function keepWindowInForm(form) {
    var input = form.querySelector("input[name=window]");
    if (!windowing.key) {
      if (input) input.remove();
      return;
    }
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "window";
      form.prepend(input);
    }
    input.value = windowing.key;
  }

  function setUpWindowPresets() {
    var select = document.querySelector("[data-window-preset]");
    if (!select) return;
    document.querySelectorAll("[data-window-apply]").forEach(function (button) { button.hidden = true; });
    function read() {
      windowing.query = select.options[select.selectedIndex].dataset.query || "";
      windowing.key = select.value === "file" ? "" : select.value;
    }
    read();
    select.addEventListener("change", function () {
      read();
      var url = new URL(window.location.href);
      if (windowing.key) url.searchParams.set("window", windowing.key);
      else url.searchParams.delete("window");
      history.replaceState(null, "", url.pathname + url.search);
      document.querySelectorAll("[data-window-link], .pagination a[href]").forEach(keepWindow);
      document.querySelectorAll("form.child-filter").forEach(keepWindowInForm);
      windowing.listeners.forEach(function (listener) { listener(); });
    });
  }

  // Steps an <img> through a list of picture URLs with a range input; the next picture is
  // asked for only once the current one has arrived, so a fast slider never queues dozens.
  function Stepper(image, range, label, urlAt, labelAt) {
    var wanted = Number(range.value), shownUrl = image.getAttribute("src"), loading = false;
    function show(index) {
      wanted = index;
      label.textContent = labelAt(index);
      if (loading) return;
      var url = urlAt(index);
      if (url === shownUrl) return;
      loading = true;
      shownUrl = url;
      image.src = url;
    }
    image.addEventListener("load", settle);
    image.addEventListener("error", settle);
    function settle() {
      loading = false;
      show(wanted);  // the slider moved, or the preset changed, while this one loaded
    }
    range.addEventListener("input", function () { show(Number(range.value)); });
    return {
      go: function (index) {
        var last = Number(range.max);
        index = Math.max(0, Math.min(last, index));
        range.value = index;
        show(index);
      },
      isLoading: function () { return loading; },
      current: function () { return Number(range.value); },
      last: function () { return Number(range.max); },
    };
  }

  // The keys that step through a series wherever the focus is on the page: not in a field the
  // user types or chooses in, nor on the slider, which steps by itself.
  var STEPS = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, PageDown: 10, PageUp: -10 };

  function steppedByKeys(stepper, range) {
    document.addEventListener("keydown", function (event) {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      var target = event.target;
      if (target === range || (target.closest && target.closest("input, textarea, select, [contenteditable], dialog"))) return;
      var step = STEPS[event.key];
      if (event.key === "Home") step = -stepper.current();
      if (event.key === "End") step = stepper.last() - stepper.current();
      if (step === undefined) return;
      event.preventDefault();
      stepper.go(stepper.current() + step);
    });
  }

  function setUpScroller(root) {
    var frames = JSON.parse(document.getElementById(root.dataset.scroller).textContent);
    var image = root.querySelector("[data-scroller-image]");
    var range = root.querySelector("[data-scroller-range]");
    var label = root.querySelector("[data-scroller-label]");
    var link = root.querySelector("[data-scroller-link]");
    var full = root.querySelector("[data-full-size]");
    var stepper = Stepper(image, range, label,
      function (i) {
        if (link) {
          link.setAttribute("href", frames[i].href);
          keepWindow(link);
        }
        if (full) full.setAttribute("href", frames[i].full + windowing.query);
        return frames[i].url + windowing.query;
      },
      function (i) { return frames[i].label + " · " + (i + 1) + " / " + frames.length; });
    windowing.listeners.push(function () { stepper.go(stepper.current()); });
    // The mouse wheel over the picture scrolls through the series, as in a viewer.
    image.addEventListener("wheel", function (event) {
      event.preventDefault();
      stepper.go(stepper.current() + (event.deltaY > 0 ? 1 : -1));
    }, { passive: false });
    steppedByKeys(stepper, range);
  }

  // A single picture (an instance of one frame) follows the preset, and so does its full size.
  function setUpPreview(root) {
    if (root.hasAttribute("data-cine")) return;
    var image = root.querySelector("[data-preview][data-base-url]");
    var full = root.querySelector("[data-full-size][data-base-url]");
    windowing.listeners.push(function () {
      if (image) image.src = image.dataset.baseUrl + windowing.query;
      if (full) full.setAttribute("href", full.dataset.baseUrl + windowing.query);
    });
  }

  function setUpCine(root) {
    var template = root.dataset.frameUrl;
    var fullTemplate = root.dataset.fullSizeUrl;
    var count = Number(root.dataset.frameCount);
    var image = root.querySelector("[data-preview]");
    var range = root.querySelector("[data-cine-range]");
    var label = root.querySelector("[data-cine-label]");
    var play = root.querySelector("[data-cine-play]");
    var full = root.querySelector("[data-full-size]");
    var stepper = Stepper(image, range, label,
      function (i) {
        if (full && fullTemplate) full.setAttribute("href", fullTemplate.replace("{n}", String(i)) + windowing.query);
        return template.replace("{n}", String(i)) + windowing.query;
      },
      function (i) { return "Frame " + (i + 1) + " / " + count; });
    windowing.listeners.push(function () { stepper.go(stepper.current()); });
    var timer = null;
    function tick() {
      if (!stepper.isLoading()) stepper.go((stepper.current() + 1) % count);
    }
    play.addEventListener("click", function () {
      if (timer) {
        clearInterval(timer);
        timer = null;
      } else {
        timer = setInterval(tick, 100);
      }
      play.textContent = timer ? "Pause" : "Play";
      play.setAttribute("aria-pressed", timer ? "true" : "false");
    });
  }

  function setUpTagTree(root) {
    var allDetails = function () { return root.querySelectorAll("details"); };
    var expand = root.querySelector("[data-expand-all]");
    var collapse = root.querySelector("[data-collapse-all]");
    var filter = root.querySelector("[data-tag-filter]");
    if (expand) expand.addEventListener("click", function () { allDetails().forEach(function (d) { d.open = true; }); });
    if (collapse) collapse.addEventListener("click", function () { allDetails().forEach(function (d) { d.open = false; }); });
    if (!filter) return;

    // A tag stays visible when its own row matches or when something inside it does
    // (then its sequence opens to show it).
    function apply(list, text) {
      var anyShown = false;
      Array.prototype.forEach.call(list.children, function (item) {
        var row = item.querySelector(".tag-row");
        var own = !text || row.textContent.toLowerCase().indexOf(text) !== -1;
        var inside = false;
        var details = item.querySelector(":scope > details");
        if (details) {
          details.querySelectorAll(":scope > .item > ul.tags").forEach(function (child) {
            if (apply(child, own ? "" : text)) inside = true;
          });
          if (text && inside && !own) details.open = true;
        }
        item.hidden = !(own || inside);
        if (!item.hidden) anyShown = true;
      });
      return anyShown;
    }
    // Each section (the file meta header, the data set) has a list of its own.
    var tops = root.querySelectorAll("[data-tag-section] > ul.tags");
    filter.addEventListener("input", function () {
      var text = filter.value.trim().toLowerCase();
      Array.prototype.forEach.call(tops, function (top) { apply(top, text); });
    });
  }

  // Each opener is a link to its retrieve page; the dialog posts the same form to that URL.
  function setUpRetrieveDialog() {
    var dialog = document.getElementById("retrieve-dialog");
    if (!dialog || typeof dialog.showModal !== "function") return;
    var form = dialog.querySelector("[data-retrieve-form]");
    var what = dialog.querySelector("[data-retrieve-what]");
    var target = form.querySelector("input[name=target_aet]");
    document.querySelectorAll("a[data-retrieve]").forEach(function (opener) {
      opener.addEventListener("click", function (event) {
        event.preventDefault();
        form.action = opener.href;
        what.textContent = opener.dataset.retrieveWhat || "";
        dialog.showModal();
        if (target) target.select();
      });
    });
    dialog.querySelectorAll("[data-close-dialog]").forEach(function (button) {
      button.addEventListener("click", function () { dialog.close(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpDialogs();
    setUpRetrieveDialog();
    setUpDateFilters();
    setUpWindowPresets();
    document.querySelectorAll("[data-scroller]").forEach(setUpScroller);
    document.querySelectorAll("[data-preview-card]").forEach(setUpPreview);
    document.querySelectorAll("[data-cine]").forEach(setUpCine);
    document.querySelectorAll("[data-tag-tree]").forEach(setUpTagTree);
  });
})();
