/* aira-dsl run viewer: draws the embedded run (graph, details, plots); when served, follows a live run. */
(function () {
  "use strict";
  var STARTED = performance.now();
  var SVG = "http://www.w3.org/2000/svg";
  var DATA = JSON.parse(document.getElementById("run-data").textContent);
  var RUN = DATA.run;
  var PAGE = DATA.page || {};
  var NODES = [];
  var BY_ID = {};
  var CHILDREN = {};
  /* (Re)builds the lookups from a node list; called again after each live update. */
  function indexNodes(list) {
    NODES = list.slice().sort(function (a, b) { return a.id - b.id; });
    BY_ID = {};
    CHILDREN = {};
    NODES.forEach(function (n) { BY_ID[n.id] = n; CHILDREN[n.id] = []; });
    NODES.forEach(function (n) {
      n.parents.forEach(function (p) { if (CHILDREN[p] && CHILDREN[p].indexOf(n.id) < 0) { CHILDREN[p].push(n.id); } });
    });
  }
  indexNodes(DATA.nodes);

  var DX = 46, DY = 64, PAD = 40;

  function el(name, attrs, parent) {
    var e = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined) { return "-"; }
    if (typeof v !== "number") { return String(v); }
    if (Number.isInteger(v)) { return String(v); }
    return Number(v.toPrecision(digits || 5)).toString();
  }
  function $(id) { return document.getElementById(id); }

  // -- Python syntax highlighting (a small tokenizer: comments, strings, numbers, keywords) -----
  var KEYWORDS = new Set(("False None True and as assert async await break class continue def del elif else " +
    "except finally for from global if import in is lambda nonlocal not or pass raise return try while with " +
    "yield match case").split(" "));
  var BUILTINS = new Set(("abs all any bool dict enumerate filter float int isinstance len list map max min " +
    "open print range reversed round set sorted str sum super tuple type zip self Exception ValueError " +
    "KeyError TypeError RuntimeError").split(" "));
  var TOKEN = new RegExp([
    "(#[^\\n]*)",
    "((?:[rRbBuUfF]{1,2})?(?:\"\"\"[\\s\\S]*?(?:\"\"\"|$)|'''[\\s\\S]*?(?:'''|$)|\"(?:\\\\.|[^\"\\\\\\n])*\"?|'(?:\\\\.|[^'\\\\\\n])*'?))",
    "(@[A-Za-z_][\\w.]*)",
    "(\\b\\d[\\d_]*(?:\\.[\\d_]*)?(?:[eE][+-]?\\d+)?j?\\b|\\.\\d+(?:[eE][+-]?\\d+)?)",
    "([A-Za-z_]\\w*)"
  ].join("|"), "g");
  function escapeHtml(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function highlightPython(src) {
    var out = [], last = 0, m, prev = "";
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(src)) !== null) {
      if (m[0] === "") { TOKEN.lastIndex++; continue; }
      out.push(escapeHtml(src.slice(last, m.index)));
      var cls = null, word = m[0];
      if (m[1]) { cls = "c"; }
      else if (m[2]) { cls = "s"; }
      else if (m[3]) { cls = "d"; }
      else if (m[4]) { cls = "n"; }
      else if (m[5]) {
        if (KEYWORDS.has(word)) { cls = "k"; }
        else if (prev === "def" || prev === "class") { cls = "f"; }
        else if (BUILTINS.has(word)) { cls = "b"; }
        prev = word;
      }
      out.push(cls ? "<span class=\"tk-" + cls + "\">" + escapeHtml(word) + "</span>" : escapeHtml(word));
      last = m.index + word.length;
    }
    out.push(escapeHtml(src.slice(last)));
    return out.join("");
  }

  // -- the graph ---------------------------------------------------------------------------
  var svg = $("graph");
  var view = el("g", {}, svg);
  var edgeLayer = el("g", {}, view), labelLayer = el("g", {}, view), nodeLayer = el("g", {}, view);
  var selected = null;
  var nodeEls = {};
  var edgeEls = {};  /* child id -> the edges and labels drawn into it (faded with it by filters) */
  var fitMin = Infinity, fitMax = -Infinity;
  var maxX = 0, maxY = 0;
  function radius(n) {
    if (n.kind !== "valid" || n.fitness === null) { return 8; }
    var t = fitMax > fitMin ? (n.fitness - fitMin) / (fitMax - fitMin) : 1;
    return 8 + 6 * t;
  }
  function px(n) { return PAD + n.x * DX; }
  function py(n) { return PAD + (n.y + 1) * DY; }

  // The operator's name sits just above the child it made: children never overlap, so neither do labels.
  function edge(child, x1, y1, x2, y2, cls, label, r) {
    var my = (y1 + y2) / 2;
    var parts = edgeEls[child] || (edgeEls[child] = []);
    parts.push(el("path", { d: "M" + x1 + "," + y1 + " C" + x1 + "," + my + " " + x2 + "," + my + " " + x2 + "," + y2,
      "class": "edge " + cls }, edgeLayer));
    if (label) {
      var t = el("text", { x: x2, y: y2 - r - 4, "class": "elabel" }, labelLayer);
      t.textContent = label;
      parts.push(t);
    }
  }
  /* Draws the whole graph from NODES (again after a live update: a new node can shift the layout). */
  function draw() {
    [edgeLayer, labelLayer, nodeLayer].forEach(function (layer) { layer.textContent = ""; });
    nodeEls = {};
    edgeEls = {};
    fitMin = Infinity; fitMax = -Infinity; maxX = 0; maxY = 0;
    NODES.forEach(function (n) {
      if (n.kind === "valid" && n.fitness !== null) { fitMin = Math.min(fitMin, n.fitness); fitMax = Math.max(fitMax, n.fitness); }
      maxX = Math.max(maxX, px(n)); maxY = Math.max(maxY, py(n));
    });
    var tops = NODES.filter(function (n) { return n.y === 0; }).map(px);
    var rootX = tops.length ? (Math.min.apply(null, tops) + Math.max.apply(null, tops)) / 2 : PAD;
    el("circle", { cx: rootX, cy: PAD, r: 5, "class": "root" }, nodeLayer);
    NODES.forEach(function (n) {
      var tree = n.parents.filter(function (p) { return BY_ID[p] && p !== n.id; });
      if (tree.length === 0) {
        edge(n.id, rootX, PAD, px(n), py(n), n.role, n.op, radius(n));
      } else {
        tree.forEach(function (p, i) {
          var parent = BY_ID[p];
          edge(n.id, px(parent), py(parent), px(n), py(n), i === 0 ? n.role : "extra", i === 0 ? n.op : "", radius(n));
        });
      }
    });
    NODES.forEach(function (n) {
      var cls = "node " + n.kind + (n.id === RUN.best_node ? " best" : "") + (n.id === selected ? " selected" : "");
      var g = el("g", { "class": cls, "data-id": n.id, transform: "translate(" + px(n) + "," + py(n) + ")" }, nodeLayer);
      var r = radius(n);
      el("circle", { r: r }, g);
      if (n.id === RUN.test_node) { el("circle", { r: r + 4, "class": "oracle" }, g); }
      var digits = String(n.id).length;
      var label = el("text", { "class": "nlabel", "font-size": digits <= 2 ? 9 : digits === 3 ? 7 : 6 }, g);
      label.textContent = n.id;
      if (n.metric !== null && n.kind === "valid") {
        var s = el("text", { x: 0, y: r + 10, "class": "slabel" }, g);
        s.textContent = fmt(n.metric, 4);
      }
      var tip = el("title", {}, g);
      tip.textContent = "node " + n.id + " · " + n.op + " · " + n.kind + (n.metric !== null ? " · " + RUN.metric + " " + fmt(n.metric) : "");
      nodeEls[n.id] = g;
    });
    operatorOptions();
    applyFilter();
  }

  // pan and zoom
  var tx = 0, ty = 0, scale = 1;
  var userMoved = false;  /* once the user pans or zooms, live updates keep their view */
  function apply() {
    view.setAttribute("transform", "translate(" + tx + "," + ty + ") scale(" + scale + ")");
    svg.classList.toggle("far", scale < 0.7);
    svg.classList.toggle("farther", scale < 0.35);
  }
  function size() {
    var box = svg.getBoundingClientRect();
    return { w: box.width || 800, h: box.height || 500 };
  }
  /* The canvas is as tall as the graph drawn at the width it has (no empty band under a small
     tree on a tall window), at least MIN_H, at most most of the window; a graph too large to read
     whole gets the full height, since it will be explored by panning. */
  var MIN_H = 220;
  function sizeCanvas() {
    var w = maxX + PAD, h = Math.max(maxY, PAD) + PAD;
    var width = svg.getBoundingClientRect().width || 800;
    var cap = Math.max(360, Math.round(window.innerHeight * 0.85));
    var s = Math.min(width / w, 1.5);
    var want = s < 0.3 ? cap : Math.min(Math.max(Math.ceil(h * s) + 8, MIN_H), cap);
    svg.style.height = want + "px";
    /* The details panel may grow as tall as the graph pane (or most of a screen), no taller. */
    document.querySelector("main").style.setProperty("--pane-h", $("graph-pane").offsetHeight + "px");
  }
  function fit() {
    var s = size();
    var w = maxX + PAD, h = Math.max(maxY, PAD) + PAD;
    scale = Math.min(s.w / w, s.h / h, 1.5);
    scale = Math.max(scale, 0.02);
    tx = (s.w - w * scale) / 2;
    ty = 4;
    apply();
  }
  function centerOn(n) {
    var s = size();
    if (scale < 0.8) { scale = 1; }
    tx = s.w / 2 - px(n) * scale;
    ty = s.h / 2 - py(n) * scale;
    userMoved = true;
    apply();
  }
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var box = svg.getBoundingClientRect();
    var mx = e.clientX - box.left, my = e.clientY - box.top;
    var k = Math.exp(-e.deltaY * 0.0015);
    var next = Math.min(Math.max(scale * k, 0.02), 6);
    tx = mx - (mx - tx) * (next / scale);
    ty = my - (my - ty) * (next / scale);
    scale = next;
    userMoved = true;
    apply();
  }, { passive: false });
  var drag = null;
  svg.addEventListener("mousedown", function (e) {
    drag = { x: e.clientX, y: e.clientY, tx: tx, ty: ty, moved: false };
    svg.classList.add("dragging");
  });
  window.addEventListener("mousemove", function (e) {
    if (!drag) { return; }
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; userMoved = true; }
    tx = drag.tx + dx; ty = drag.ty + dy;
    apply();
  });
  window.addEventListener("mouseup", function () {
    svg.classList.remove("dragging");
    setTimeout(function () { drag = null; }, 0);
  });
  nodeLayer.addEventListener("click", function (e) {
    if (drag && drag.moved) { return; }
    var g = e.target.closest ? e.target.closest("g.node") : null;
    if (g) { select(Number(g.getAttribute("data-id")), false); }
  });

  // -- details panel -------------------------------------------------------------------------
  function scoreBox(parent, label, value, hidden) {
    var d = document.createElement("div");
    d.className = "score" + (hidden ? " hidden-test" : "");
    var b = document.createElement("b");
    b.textContent = label;
    d.appendChild(b);
    d.appendChild(document.createTextNode(value));
    parent.appendChild(d);
  }
  function kv(parent, pairs) {
    parent.textContent = "";
    var box = document.createElement("div");
    box.className = "kv";
    pairs.forEach(function (p) {
      var k = document.createElement("span"), v = document.createElement("span");
      k.textContent = p[0]; v.textContent = p[1];
      box.appendChild(k); box.appendChild(v);
    });
    parent.appendChild(box);
  }
  function link(parent, text, id) {
    var a = document.createElement("a");
    a.textContent = text;
    a.addEventListener("click", function () { select(id, true); });
    parent.appendChild(a);
  }
  function select(id, center) {
    var n = BY_ID[id];
    if (!n) { return false; }
    if (selected !== null && nodeEls[selected]) { nodeEls[selected].classList.remove("selected"); }
    selected = id;
    nodeEls[id].classList.add("selected");
    if (center) { centerOn(n); }
    $("details-empty").hidden = true;
    $("details-body").hidden = false;
    var tags = [n.kind];
    if (id === RUN.best_node) { tags.push("final node (best validation)"); }
    if (id === RUN.test_node) { tags.push("best by hidden test"); }
    $("d-title").textContent = "Node " + n.id + " · " + n.op + (n.op !== n.role ? " (" + n.role + ")" : "") + " · " + tags.join(", ");
    var scores = $("d-scores");
    scores.textContent = "";
    scoreBox(scores, "validation " + RUN.metric, fmt(n.metric, 6));
    scoreBox(scores, "fitness", fmt(n.fitness, 6));
    if (n.review) { scoreBox(scores, "reviewer's metric", fmt(n.review.metric, 6)); }
    var g = n.grade;
    scoreBox(scores, "hidden test score (never seen by the agent)",
      g ? (g.valid_submission ? fmt(g.test_score, 6) + (g.medal ? " · " + g.medal : "") + (g.above_median ? " · above median" : "") : "invalid submission") : "not graded", true);
    if (g && g.hidden_score !== null) { scoreBox(scores, "hidden validation split", fmt(g.hidden_score, 6), true); }
    var links = $("d-links");
    links.textContent = "";
    if (n.parents.length) { links.appendChild(document.createTextNode("parents: ")); n.parents.forEach(function (p) { link(links, "#" + p, p); }); }
    var kids = CHILDREN[id];
    if (kids.length) {
      links.appendChild(document.createTextNode(" children: "));
      kids.slice(0, 60).forEach(function (c) { link(links, "#" + c, c); });
      if (kids.length > 60) { links.appendChild(document.createTextNode("and " + (kids.length - 60) + " more")); }
    }
    $("d-plan").textContent = n.plan || "(no plan)";
    var code = $("d-code");
    if (n.code) { code.innerHTML = highlightPython(n.code); } else { code.textContent = n.error ? "(no code: " + n.error + ")" : "(no code)"; }
    var e = n.exec;
    if (e) {
      kv($("d-exec"), [["exit code", fmt(e.exit_code)], ["duration", fmt(e.duration, 4) + " s"],
        ["timed out", e.timed_out ? "yes" : "no"], ["out of memory", e.oom_killed ? "yes" : "no"],
        ["submission", e.submission_exists ? (e.submission_valid ? "valid" : "invalid" + (e.submission_reason ? ": " + e.submission_reason : "")) : "none written"],
        ["isolation", e.isolation || "-"], ["reported metrics", JSON.stringify(e.reported)]]);
      $("d-output").textContent = e.output || "(no output)";
      /* The page keeps the head and tail of a long output; served, the whole file is one click away. */
      $("d-output-full").hidden = !(e.output_clipped && PAGE.api);
      $("d-output-full").firstChild.href = "nodes/" + ("0000" + n.id).slice(-5) + "/output.txt";
    } else {
      kv($("d-exec"), [["status", n.kind === "pending" ? "in flight when the page was made" : "not executed"]]);
      $("d-output-full").hidden = true;
      $("d-output").textContent = n.error ? n.error : "";
    }
    var r = n.review;
    kv($("d-review"), r ? [["bug", r.is_bug ? "yes" : "no"], ["metric", fmt(r.metric, 6)], ["method", r.method || "-"], ["summary", r.summary]]
      : [["review", "none"], ["summary", n.summary || "-"]]);
    var u = n.usage;
    kv($("d-usage"), [["LLM calls", fmt(u.calls)], ["prompt tokens", fmt(u.prompt_tokens)], ["completion tokens", fmt(u.completion_tokens)],
      ["reasoning tokens", fmt(u.reasoning_tokens)], ["cost", "$" + u.cost_usd.toFixed(4)], ["call errors", fmt(u.errors)],
      ["depth / debug depth", n.depth + " / " + n.debug_depth], ["worker", fmt(n.worker)],
      ["started", n.created ? new Date(n.created * 1000).toISOString() : "-"],
      ["took", n.finished && n.created ? fmt(n.finished - n.created, 4) + " s" : "-"]]);
    callsHead(n);
    return true;
  }

  // -- LLM prompts and answers, loaded only when asked for (they would dominate the page) ---------
  function callsHead(n) {
    var head = $("d-calls-head"), body = $("d-calls");
    head.textContent = "";
    body.textContent = "";
    if (!n.usage.calls) {
      head.appendChild(document.createTextNode("No LLM call recorded for this node."));
      return;
    }
    var count = n.usage.calls + " call" + (n.usage.calls === 1 ? "" : "s");
    if (PAGE.api || PAGE.calls_href) {
      var b = document.createElement("button");
      b.type = "button";
      b.id = "d-calls-load";
      b.textContent = "Show the prompts and answers (" + count + ")";
      b.addEventListener("click", function () { loadCalls(n.id); });
      head.appendChild(b);
    } else {
      head.className = "muted small";
      head.textContent = count + ". Prompts and answers are not in this page (it stays small): serve the run " +
        "with `aira-dsl view RUN_DIR --serve`, or write the page with `aira-dsl view RUN_DIR --calls`.";
    }
  }
  var callWaiters = {};
  /* Call scripts (report.calls/NNNNN.js, written by `view --calls`) hand their node's calls here. */
  window.__airaViewerCalls = function (id, calls) {
    var waiter = callWaiters[id];
    delete callWaiters[id];
    if (waiter) { waiter(calls); }
  };
  function loadCalls(id) {
    var body = $("d-calls");
    body.textContent = "loading…";
    function done(calls) { if (selected === id) { renderCalls(calls); } }
    function failed(why) { if (selected === id) { body.textContent = "Cannot load the calls: " + why; } }
    if (PAGE.api) {
      fetch("api/calls/" + id, { cache: "no-store" }).then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      }).then(function (d) { done(d.calls); }).catch(function (e) { failed(e.message); });
      return;
    }
    callWaiters[id] = done;
    var s = document.createElement("script");
    s.src = PAGE.calls_href + ("0000" + id).slice(-5) + ".js";
    s.onerror = function () {
      delete callWaiters[id];
      failed(s.src + " is missing (was the page moved without its calls folder?)");
    };
    s.onload = function () { s.remove(); };
    document.body.appendChild(s);
  }
  function textOf(content) {
    if (typeof content === "string") { return content; }
    if (Array.isArray(content)) {
      return content.map(function (part) { return part && typeof part.text === "string" ? part.text : JSON.stringify(part); }).join("\n");
    }
    return JSON.stringify(content, null, 2);
  }
  function renderCalls(calls) {
    var body = $("d-calls");
    body.textContent = "";
    if (!calls.length) { body.textContent = "No call found in the journal."; return; }
    calls.forEach(function (c, i) {
      var box = document.createElement("details");
      box.className = "call";
      if (i === 0) { box.open = true; }
      var sum = document.createElement("summary");
      sum.textContent = "#" + (i + 1) + " " + c.operator + (c.kind && c.kind !== c.operator ? " (" + c.kind + ")" : "") + " · " + c.model +
        (c.attempt > 1 ? " · attempt " + c.attempt : "") + " · " + fmt(c.prompt_tokens) + " + " + fmt(c.completion_tokens) + " tokens · $" +
        (c.cost_usd || 0).toFixed(4) + " · " + fmt(c.latency, 3) + " s" + (c.cached ? " · cached" : "") + (c.error ? " · error" : "");
      box.appendChild(sum);
      var messages = Array.isArray(c.messages) ? c.messages : [{ role: "messages", content: c.messages }];
      messages.forEach(function (m) {
        var h = document.createElement("div");
        h.className = "role";
        h.textContent = (m && m.role) || "message";
        var pre = document.createElement("pre");
        pre.className = "prose prompt";
        pre.textContent = textOf(m && m.content !== undefined ? m.content : m);
        box.appendChild(h); box.appendChild(pre);
      });
      [["reasoning", c.reasoning], ["answer", c.response], ["error", c.error]].forEach(function (pair) {
        if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
        var h = document.createElement("div");
        h.className = "role " + pair[0];
        h.textContent = pair[0];
        var pre = document.createElement("pre");
        pre.className = "prose " + pair[0];
        pre.textContent = pair[1];
        box.appendChild(h); box.appendChild(pre);
      });
      body.appendChild(box);
    });
  }

  // -- filters: status, operator, text in plan / code / output; non-matching nodes fade --------------
  var F = { status: "", op: "", q: "" };
  function haystack(n) {
    if (n._hay === undefined) {
      n._hay = [n.plan, n.code, n.exec ? n.exec.output : "", n.error, n.summary, n.review ? n.review.summary : ""]
        .join("\n").toLowerCase();
    }
    return n._hay;
  }
  function matches(n) {
    return (!F.status || n.kind === F.status) && (!F.op || n.op === F.op) && (!F.q || haystack(n).indexOf(F.q) >= 0);
  }
  function filtering() { return Boolean(F.status || F.op || F.q); }
  function applyFilter() {
    var shown = 0;
    NODES.forEach(function (n) {
      var hit = matches(n);
      if (hit) { shown++; }
      var g = nodeEls[n.id];
      if (g) { g.classList.toggle("filtered", !hit); }
      (edgeEls[n.id] || []).forEach(function (e) { e.classList.toggle("filtered", !hit); });
    });
    $("f-count").textContent = filtering() ? shown + " of " + NODES.length + " nodes match" : NODES.length + " nodes";
    $("f-clear").hidden = !filtering();
  }
  function operatorOptions() {
    var box = $("f-op");
    var ops = {};
    NODES.forEach(function (n) { ops[n.op] = true; });
    if (F.op) { ops[F.op] = true; }
    var names = Object.keys(ops).sort();
    var have = Array.prototype.slice.call(box.options, 1).map(function (o) { return o.value; });
    if (have.join("\n") === names.join("\n")) { return; }
    while (box.options.length > 1) { box.remove(1); }
    names.forEach(function (name) {
      var o = document.createElement("option");
      o.value = name; o.textContent = name;
      box.appendChild(o);
    });
    box.value = F.op;
  }
  function readFilters() {
    F = { status: $("f-status").value, op: $("f-op").value, q: $("f-text").value.trim().toLowerCase() };
    applyFilter();
  }
  var typing = null;
  $("f-status").addEventListener("change", readFilters);
  $("f-op").addEventListener("change", readFilters);
  $("f-text").addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(readFilters, 120); });
  $("f-text").addEventListener("keydown", function (e) {
    if (e.key !== "Enter") { return; }
    clearTimeout(typing);
    readFilters();
    var hits = NODES.filter(matches);
    if (!hits.length) { return; }
    var next = hits.filter(function (n) { return selected === null || n.id > selected; })[0] || hits[0];
    select(next.id, true);
  });
  $("f-clear").addEventListener("click", function () {
    $("f-status").value = ""; $("f-op").value = ""; $("f-text").value = "";
    readFilters();
  });
  (function initialFilters() {  /* ?status=buggy&op=debug&q=text: a link can carry a filter */
    var q = new URLSearchParams(window.location.search);
    if (q.get("status")) { $("f-status").value = q.get("status"); }
    if (q.get("q")) { $("f-text").value = q.get("q"); }
    F = { status: $("f-status").value, op: q.get("op") || "", q: $("f-text").value.trim().toLowerCase() };
  })();

  $("fit").addEventListener("click", fit);
  $("goto-best").addEventListener("click", function () { if (RUN.best_node !== null) { select(RUN.best_node, true); } });
  $("goto-test").addEventListener("click", function () { if (RUN.test_node !== null) { select(RUN.test_node, true); } });
  $("goto-id").addEventListener("change", function (e) { select(Number(e.target.value), true); });

  // -- plots -------------------------------------------------------------------------------------
  function plot(svgEl, points, xKey, xLabel, xScale) {
    var box = svgEl.getBoundingClientRect();
    var W = box.width || 480, H = box.height || 240, L = 56, R = 12, T = 26, B = 34;
    svgEl.textContent = "";
    svgEl.setAttribute("viewBox", "0 0 " + W + " " + H);
    if (!points.length) {
      var t = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svgEl);
      t.textContent = "no valid node yet";
      return;
    }
    var xs = points.map(function (p) { return p[xKey] / xScale; });
    var ys = [];
    points.forEach(function (p) { if (p.metric !== null) { ys.push(p.metric); } if (p.test !== null) { ys.push(p.test); } });
    var x0 = 0, x1 = Math.max.apply(null, xs) || 1;
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (!isFinite(y0)) { y0 = 0; y1 = 1; }
    if (y1 === y0) { y0 -= Math.abs(y0) * 0.05 || 0.5; y1 += Math.abs(y1) * 0.05 || 0.5; }
    var pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
    function X(v) { return L + (v - x0) / (x1 - x0) * (W - L - R); }
    function Y(v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B); }
    for (var i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
      el("line", { x1: L, x2: W - R, y1: Y(yv), y2: Y(yv), "class": "grid" }, svgEl);
      el("text", { x: L - 4, y: Y(yv) + 3, "text-anchor": "end" }, svgEl).textContent = fmt(yv, 3);
      el("text", { x: X(xv), y: H - B + 14, "text-anchor": "middle" }, svgEl).textContent = xKey === "step" ? String(Math.round(xv)) : fmt(xv, 3);
    }
    el("line", { x1: L, x2: L, y1: T, y2: H - B, "class": "axis" }, svgEl);
    el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }, svgEl);
    el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, svgEl).textContent = xLabel;
    function steps(key) {
      var d = "", prev = null;
      points.forEach(function (p, j) {
        if (p[key] === null) { prev = null; return; }
        var x = X(xs[j]), y = Y(p[key]);
        d += prev === null ? "M" + x + "," + y : " H" + x + " V" + y;
        prev = y;
      });
      return d;
    }
    el("path", { d: steps("metric"), "class": "val" }, svgEl);
    var test = steps("test");
    if (test) { el("path", { d: test, "class": "tst" }, svgEl); }
    // Legend in the top margin, above the curves, so it never hides them.
    var lx = L, ly = 12;
    el("line", { x1: lx, x2: lx + 18, y1: ly, y2: ly, "class": "val" }, svgEl);
    el("text", { x: lx + 22, y: ly + 3 }, svgEl).textContent = "validation " + RUN.metric + " of the best node";
    if (test) {
      el("line", { x1: lx + 250, x2: lx + 268, y1: ly, y2: ly, "class": "tst" }, svgEl);
      el("text", { x: lx + 272, y: ly + 3 }, svgEl).textContent = "its hidden test score (never seen by the agent)";
    }
  }
  function plots() {
    var maxT = DATA.progress.length ? DATA.progress[DATA.progress.length - 1].elapsed : 0;
    var unit = maxT > 7200 ? ["hours", 3600] : maxT > 120 ? ["minutes", 60] : ["seconds", 1];
    plot($("plot-steps"), DATA.progress, "step", "steps done", 1);
    plot($("plot-time"), DATA.progress, "elapsed", unit[0] + " since the start", unit[1]);
  }
  plots();

  // Start on the whole graph, unless it is too big to read: then on the final node's neighbourhood.
  draw();
  sizeCanvas();
  fit();
  var asked = /[?&]node=(\d+)/.exec(window.location.search);
  if (asked && BY_ID[Number(asked[1])]) {
    select(Number(asked[1]), true);
  } else if (scale < 0.3 && BY_ID[RUN.best_node]) {
    scale = 0.9;
    centerOn(BY_ID[RUN.best_node]);
  }
  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { sizeCanvas(); if (!userMoved) { fit(); } plots(); }, 150);
  });

  // -- live: a served page polls while the run is running and applies what changed ----------------
  var live = { version: DATA.version || "", updates: 0, polls: 0, errors: 0 };
  window.__viewerLive = live;  /* read by the browser tests */
  var POLL_MS = Number((/[?&]poll=(\d+)/.exec(window.location.search) || [0, 2000])[1]);
  function liveNote(text) {
    var slot = $("live");
    slot.hidden = !text;
    slot.textContent = text;
  }
  function applyUpdate(u) {
    var nodes = u.full ? [] : NODES.filter(function (n) { return u.removed.indexOf(n.id) < 0; });
    var byId = {};
    nodes.forEach(function (n, i) { byId[n.id] = i; });
    u.nodes.forEach(function (n) {
      if (byId[n.id] !== undefined) { nodes[byId[n.id]] = n; } else { nodes.push(n); }
    });
    var place = {};
    u.layout.forEach(function (p) { place[p[0]] = p; });
    nodes.forEach(function (n) { var p = place[n.id]; if (p) { n.x = p[1]; n.y = p[2]; } });
    RUN = u.run;
    DATA.run = u.run;
    DATA.progress = u.progress;
    indexNodes(nodes);
    $("summary").innerHTML = u.summary_html;
    $("operators-table").innerHTML = u.operators_html;
    $("goto-best").disabled = RUN.best_node === null;
    $("goto-test").disabled = RUN.test_node === null;
    draw();
    sizeCanvas();
    if (!userMoved) { fit(); } else { apply(); }
    plots();
    var changed = u.nodes.some(function (n) { return n.id === selected; });
    if (selected !== null && !BY_ID[selected]) {
      selected = null;
      $("details-body").hidden = true;
      $("details-empty").hidden = false;
    } else if (changed) {
      var keep = $("details").scrollTop;
      select(selected, false);
      $("details").scrollTop = keep;
    }
    live.updates++;
  }
  function poll() {
    live.polls++;
    fetch("api/nodes?since=" + encodeURIComponent(live.version), { cache: "no-store" }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (u) {
      if (u.changed) { applyUpdate(u); }
      live.version = u.version;
      follow();
    }).catch(function (e) {
      live.errors++;
      liveNote("cannot reach the server (" + e.message + "); retrying");
      setTimeout(poll, Math.min(POLL_MS * 4, 30000));
    });
  }
  function follow() {
    if (!PAGE.api) { return; }
    if (RUN.status !== "running") {
      liveNote(live.updates ? "run " + RUN.status + "; stopped following it" : "");
      return;
    }
    liveNote("live · " + NODES.length + " nodes · checked " + new Date().toLocaleTimeString());
    setTimeout(poll, POLL_MS);
  }
  follow();

  // -- self-test (?selftest=1): click a node as a user would, then report into the DOM -----------
  if (/[?&]selftest=1\b/.test(window.location.search)) {
    var target = BY_ID[RUN.best_node] || NODES.filter(function (n) { return n.code; })[0] || NODES[0];
    var box = view.getBBox();
    var result = { nodes: NODES.length, clicked: null, code_shown: false, title: "", errors: [],
      draw_ms: Math.round(performance.now() - STARTED),
      canvas: { height: Math.round(svg.getBoundingClientRect().height), graph_height: Math.round(box.height * scale),
                window_height: window.innerHeight } };
    if (target) {
      var circle = nodeEls[target.id].querySelector("circle");
      circle.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, view: window }));
      result.clicked = target.id;
      result.code_shown = $("d-code").textContent === (target.code || $("d-code").textContent) && !$("details-body").hidden;
      result.title = $("d-title").textContent;
    }
    result.errors = window.__viewerErrors.slice();
    var out = document.createElement("pre");
    out.id = "selftest-result";
    out.textContent = JSON.stringify(result);
    $("selftest-slot").appendChild(out);
  }
})();
