/* aira-dsl sweep index: sorts and filters the server-rendered rows; when served, follows live runs. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("index-data").textContent);
  var table = document.getElementById("runs");
  var heads = Array.prototype.slice.call(table.querySelectorAll("thead th"));
  var filter = document.getElementById("run-filter");
  var state = { key: "rel", desc: false };

  /* The sort is kept in the URL's hash, so a refresh (or a link) shows the same order. */
  var m = /sort=(\w+):(asc|desc)/.exec(window.location.hash);
  if (m) { state = { key: m[1], desc: m[2] === "desc" }; }

  function cellValue(row, index, type) {
    var cell = row.cells[index];
    var v = cell ? cell.getAttribute("data-v") : "";
    if (v === null || v === "") { return null; }
    return type === "num" ? Number(v) : v.toLowerCase();
  }
  function sortRows() {
    var index = -1, type = "text";
    heads.forEach(function (th, i) {
      var on = th.getAttribute("data-key") === state.key;
      if (on) { index = i; type = th.getAttribute("data-type"); }
      if (on) { th.setAttribute("aria-sort", state.desc ? "descending" : "ascending"); } else { th.removeAttribute("aria-sort"); }
    });
    if (index < 0) { return; }
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.hasAttribute("data-rel"); });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      if (x === null && y === null) { return a.getAttribute("data-rel") < b.getAttribute("data-rel") ? -1 : 1; }
      if (x === null) { return 1; }   /* missing values last, whichever the direction */
      if (y === null) { return -1; }
      var c = x < y ? -1 : x > y ? 1 : 0;
      if (c === 0) { c = a.getAttribute("data-rel") < b.getAttribute("data-rel") ? -1 : 1; return c; }
      return state.desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var rows = Array.prototype.slice.call(table.tBodies[0].rows).filter(function (r) { return r.hasAttribute("data-rel"); });
    var shown = 0;
    rows.forEach(function (r) {
      var hit = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
      r.hidden = !hit;
      if (hit) { shown++; }
    });
    document.getElementById("run-count").textContent = shown + " of " + rows.length + " runs shown";
  }
  heads.forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      if (state.key === key) { state.desc = !state.desc; } else { state = { key: key, desc: th.getAttribute("data-type") === "num" }; }
      history.replaceState(null, "", "#sort=" + state.key + ":" + (state.desc ? "desc" : "asc"));
      sortRows();
    });
  });
  filter.addEventListener("input", applyFilter);
  sortRows();
  applyFilter();

  /* Served and a run is live: re-read this page from the server and swap the rows and counts in. */
  var pollMs = Number((/[?&]poll=(\d+)/.exec(window.location.search) || [0, 5000])[1]);
  function refresh() {
    fetch(window.location.pathname + window.location.search, { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.text();
    }).then(function (text) {
      var doc = new DOMParser().parseFromString(text, "text/html");
      table.replaceChild(document.importNode(doc.querySelector("#runs tbody"), true), table.tBodies[0]);
      var counts = doc.getElementById("index-counts");
      document.getElementById("index-counts").innerHTML = counts.innerHTML;
      var next = JSON.parse(doc.getElementById("index-data").textContent);
      sortRows();
      applyFilter();
      live(next.live);
    }).catch(function (e) {
      var slot = document.getElementById("index-live");
      if (slot) { slot.textContent = " · cannot refresh (" + e.message + "); retrying"; }
      setTimeout(refresh, pollMs * 2);
    });
  }
  function live(n) {
    var slot = document.getElementById("index-live");
    if (!DATA.api || !n) {
      if (slot && DATA.api) { slot.textContent = ""; }
      return;
    }
    slot.textContent = " · " + n + " live, refreshed " + new Date().toLocaleTimeString();
    setTimeout(refresh, pollMs);
  }
  live(DATA.live);
})();
