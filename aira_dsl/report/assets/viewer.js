/* aira-dsl run viewer: draws the embedded run (graph, details, plots). No external code. */
(function () {
  "use strict";
  var STARTED = performance.now();
  var SVG = "http://www.w3.org/2000/svg";
  var DATA = JSON.parse(document.getElementById("run-data").textContent);
  var RUN = DATA.run;
  var NODES = DATA.nodes;
  var BY_ID = {};
  var CHILDREN = {};
  NODES.forEach(function (n) { BY_ID[n.id] = n; CHILDREN[n.id] = []; });
  NODES.forEach(function (n) {
    n.parents.forEach(function (p) { if (CHILDREN[p]) { CHILDREN[p].push(n.id); } });
  });

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
  var nodeEls = {};
  var fitMin = Infinity, fitMax = -Infinity;
  NODES.forEach(function (n) {
    if (n.kind === "valid" && n.fitness !== null) { fitMin = Math.min(fitMin, n.fitness); fitMax = Math.max(fitMax, n.fitness); }
  });
  function radius(n) {
    if (n.kind !== "valid" || n.fitness === null) { return 8; }
    var t = fitMax > fitMin ? (n.fitness - fitMin) / (fitMax - fitMin) : 1;
    return 8 + 6 * t;
  }
  function px(n) { return PAD + n.x * DX; }
  function py(n) { return PAD + (n.y + 1) * DY; }
  var maxX = 0, maxY = 0;
  NODES.forEach(function (n) { maxX = Math.max(maxX, px(n)); maxY = Math.max(maxY, py(n)); });
  var rootX = NODES.length ? (Math.min.apply(null, NODES.filter(function (n) { return n.y === 0; }).map(px)) +
    Math.max.apply(null, NODES.filter(function (n) { return n.y === 0; }).map(px))) / 2 : PAD;
  if (!isFinite(rootX)) { rootX = PAD; }
  el("circle", { cx: rootX, cy: PAD, r: 5, "class": "root" }, nodeLayer);

  // The operator's name sits just above the child it made: children never overlap, so neither do labels.
  function edge(x1, y1, x2, y2, cls, label, r) {
    var my = (y1 + y2) / 2;
    el("path", { d: "M" + x1 + "," + y1 + " C" + x1 + "," + my + " " + x2 + "," + my + " " + x2 + "," + y2,
      "class": "edge " + cls }, edgeLayer);
    if (label) {
      var t = el("text", { x: x2, y: y2 - r - 4, "class": "elabel" }, labelLayer);
      t.textContent = label;
    }
  }
  NODES.forEach(function (n) {
    var tree = n.parents.filter(function (p) { return BY_ID[p] && p !== n.id; });
    if (tree.length === 0) {
      edge(rootX, PAD, px(n), py(n), n.role, n.op, radius(n));
    } else {
      tree.forEach(function (p, i) {
        var parent = BY_ID[p];
        edge(px(parent), py(parent), px(n), py(n), i === 0 ? n.role : "extra", i === 0 ? n.op : "", radius(n));
      });
    }
  });
  NODES.forEach(function (n) {
    var cls = "node " + n.kind + (n.id === RUN.best_node ? " best" : "");
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

  // pan and zoom
  var tx = 0, ty = 0, scale = 1;
  function apply() {
    view.setAttribute("transform", "translate(" + tx + "," + ty + ") scale(" + scale + ")");
    svg.classList.toggle("far", scale < 0.7);
    svg.classList.toggle("farther", scale < 0.35);
  }
  function size() {
    var box = svg.getBoundingClientRect();
    return { w: box.width || 800, h: box.height || 500 };
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
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; }
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
  var selected = null;
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
    } else {
      kv($("d-exec"), [["status", n.kind === "pending" ? "in flight when the page was made" : "not executed"]]);
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
    return true;
  }

  $("fit").addEventListener("click", fit);
  $("goto-best").addEventListener("click", function () { if (RUN.best_node !== null) { select(RUN.best_node, true); } });
  $("goto-test").addEventListener("click", function () { if (RUN.test_node !== null) { select(RUN.test_node, true); } });
  $("goto-id").addEventListener("change", function (e) { select(Number(e.target.value), true); });

  // -- plots -------------------------------------------------------------------------------------
  function plot(svgEl, points, xKey, xLabel, xScale) {
    var box = svgEl.getBoundingClientRect();
    var W = box.width || 480, H = box.height || 240, L = 56, R = 12, T = 26, B = 34;
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
  var maxT = DATA.progress.length ? DATA.progress[DATA.progress.length - 1].elapsed : 0;
  var unit = maxT > 7200 ? ["hours", 3600] : maxT > 120 ? ["minutes", 60] : ["seconds", 1];
  plot($("plot-steps"), DATA.progress, "step", "steps done", 1);
  plot($("plot-time"), DATA.progress, "elapsed", unit[0] + " since the start", unit[1]);

  // Start on the whole graph, unless it is too big to read: then on the final node's neighbourhood.
  fit();
  var asked = /[?&]node=(\d+)/.exec(window.location.search);
  if (asked && BY_ID[Number(asked[1])]) {
    select(Number(asked[1]), true);
  } else if (scale < 0.3 && BY_ID[RUN.best_node]) {
    scale = 0.9;
    centerOn(BY_ID[RUN.best_node]);
  }

  // -- self-test (?selftest=1): click a node as a user would, then report into the DOM -----------
  if (/[?&]selftest=1\b/.test(window.location.search)) {
    var target = BY_ID[RUN.best_node] || NODES.filter(function (n) { return n.code; })[0] || NODES[0];
    var result = { nodes: NODES.length, clicked: null, code_shown: false, title: "", errors: [],
      draw_ms: Math.round(performance.now() - STARTED) };
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
