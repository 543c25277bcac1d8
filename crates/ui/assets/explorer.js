// Argus explorer: PromQL box with autocomplete of metric and label names,
// a range picker, and uPlot charts. A series that a dynamic rule watches gets
// its learned band (argus_baseline_lower/upper), the expected line, and its
// anomalous points coloured by level (argus_anomaly_level; where the live band has no
// points, as over imported history, the model's band over the stored samples from
// /api/v1/models/band), and, for rules with the
// streaming scorer on, the samples it reported (argus_anomaly_stream_score >= 0.5) as
// rings; hovering explains a point. Deploys and configuration changes stored as
// events in the range are drawn on every chart as dashed vertical lines, named
// in the tooltip near them and listed under the charts.
(function () {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const q = $("#q"), list = $("#ac-list"), form = $("#query-form"), status = $("#q-status");
  const charts = $("#charts"), tip = $("#tip");
  const LEVEL_COLORS = ["", "#d4a106", "#e07b00", "#d4380d", "#a8071a"];
  const BASELINE = ["argus_baseline_expected", "argus_baseline_lower", "argus_baseline_upper",
    "argus_anomaly_level", "argus_anomaly_score", "argus_anomaly_stream_score"];
  let metricNames = [], labelNames = [], plots = [];

  async function getJSON(url) {
    const r = await fetch(url);
    const d = await r.json().catch(() => null);
    if (!r.ok || !d || d.status !== "success") {
      throw new Error((d && d.error) || ("HTTP " + r.status));
    }
    return d.data;
  }

  // ---- autocomplete -------------------------------------------------------
  Promise.all([getJSON("/api/v1/label/__name__/values"), getJSON("/api/v1/labels")])
    .then(([m, l]) => { metricNames = m || []; labelNames = (l || []).filter((x) => x !== "__name__"); })
    .catch((e) => { status.textContent = "Autocomplete unavailable: " + e.message; });

  let sel = -1, items = [], tokenStart = 0;

  function context() {
    const pos = q.selectionStart || 0, text = q.value.slice(0, pos);
    const m = /[a-zA-Z_:][a-zA-Z0-9_:]*$/.exec(text);
    const word = m ? m[0] : "";
    tokenStart = pos - word.length;
    // Inside braces and not after an operator: a label name.
    const open = text.lastIndexOf("{"), close = text.lastIndexOf("}");
    const inBraces = open > close;
    const afterOp = /(=~|!~|!=|=)\s*"[^"]*$/.test(text);
    return { word, kind: inBraces ? (afterOp ? null : "label") : "metric" };
  }

  function closeList() {
    list.hidden = true; list.innerHTML = ""; items = []; sel = -1;
    q.setAttribute("aria-expanded", "false");
    q.removeAttribute("aria-activedescendant");
  }

  function openList() {
    const { word, kind } = context();
    if (!kind || (!word && kind === "metric")) { closeList(); return; }
    const pool = kind === "label" ? labelNames : metricNames;
    const w = word.toLowerCase();
    const pre = [], sub = [];
    for (const n of pool) {
      const l = n.toLowerCase();
      if (l.startsWith(w)) pre.push(n); else if (w && l.includes(w)) sub.push(n);
      if (pre.length >= 40) break;
    }
    items = pre.concat(sub).slice(0, 40);
    if (!items.length || (items.length === 1 && items[0] === word)) { closeList(); return; }
    list.innerHTML = items.map((n, i) =>
      '<li role="option" id="ac-' + i + '" data-i="' + i + '">' + n.replace(/</g, "&lt;") +
      "<small>" + kind + "</small></li>").join("");
    list.hidden = false; sel = -1;
    q.setAttribute("aria-expanded", "true");
  }

  function mark(i) {
    sel = (i + items.length) % items.length;
    list.querySelectorAll("li").forEach((li, j) => li.setAttribute("aria-selected", String(j === sel)));
    const li = document.getElementById("ac-" + sel);
    if (li) { li.scrollIntoView({ block: "nearest" }); q.setAttribute("aria-activedescendant", li.id); }
  }

  function accept(i) {
    const pos = q.selectionStart || 0;
    const name = items[i];
    q.value = q.value.slice(0, tokenStart) + name + q.value.slice(pos);
    const c = tokenStart + name.length;
    q.setSelectionRange(c, c);
    closeList();
    q.focus();
  }

  q.addEventListener("input", openList);
  q.addEventListener("blur", () => setTimeout(closeList, 150));
  q.addEventListener("keydown", (e) => {
    if (list.hidden) {
      if (e.key === " " && e.ctrlKey) { openList(); e.preventDefault(); }
      return;
    }
    if (e.key === "ArrowDown") { mark(sel + 1); e.preventDefault(); }
    else if (e.key === "ArrowUp") { mark(sel - 1); e.preventDefault(); }
    else if ((e.key === "Enter" || e.key === "Tab") && sel >= 0) { accept(sel); e.preventDefault(); }
    else if (e.key === "Tab" && items.length) { accept(0); e.preventDefault(); }
    else if (e.key === "Escape") { closeList(); e.preventDefault(); }
  });
  list.addEventListener("mousedown", (e) => {
    const li = e.target.closest("li");
    if (li) { e.preventDefault(); accept(Number(li.dataset.i)); }
  });

  // ---- queries and charts -------------------------------------------------
  function seconds(r) {
    const m = /^(\d+)([smhd])$/.exec(r);
    return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]] : 3600;
  }

  function labelStr(metric) {
    const name = metric.__name__ || "";
    const rest = Object.keys(metric).filter((k) => k !== "__name__").sort()
      .map((k) => k + "=" + JSON.stringify(metric[k]));
    return name + (rest.length || !name ? "{" + rest.join(", ") + "}" : "");
  }

  async function range(expr, start, end, step) {
    const p = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
    return getJSON("/api/v1/query_range?" + p);
  }

  function toMap(values) {
    const m = new Map();
    for (const [t, v] of values) m.set(t, Number(v));
    return m;
  }

  // The band series of one plotted series, keyed by name, for one rule.
  async function baselineFor(metric, start, end, step) {
    if (!metric.__name__ || metric.__name__.startsWith("argus_")) return null;
    const sel = ['__name__=~"' + BASELINE.join("|") + '"', "metric=" + JSON.stringify(metric.__name__)];
    for (const k of Object.keys(metric)) if (k !== "__name__") sel.push(k + "=" + JSON.stringify(metric[k]));
    const d = await range("{" + sel.join(",") + "}", start, end, step);
    const rule = d.result.length ? d.result[0].metric.rule : await ruleWatching(metric);
    if (!rule) return null;
    const out = { rule };
    for (const s of d.result) if (s.metric.rule === rule) out[s.metric.__name__] = toMap(s.values);
    // Where the live band has no points (history from before the rule ran,
    // or imported later), the model's band over the stored samples fills in.
    const one = ["__name__=" + JSON.stringify(metric.__name__)];
    for (const k of Object.keys(metric)) if (k !== "__name__") one.push(k + "=" + JSON.stringify(metric[k]));
    try {
      const p = new URLSearchParams({ rule, series: "{" + one.join(",") + "}",
        start: String(start), end: String(end), step: String(step) });
      const h = await getJSON("/api/v1/models/band?" + p);
      for (const s of h.result) {
        const m = out[s.metric.__name__] || new Map();
        let added = 0;
        for (const [t, v] of s.values) if (!m.has(t)) { m.set(t, Number(v)); added++; }
        out[s.metric.__name__] = m;
        if (added && s.metric.__name__ === "argus_baseline_lower") out.history = added;
      }
    } catch (_) { /* no trained model yet: the live band only */ }
    return out.argus_baseline_lower && out.argus_baseline_upper ? out : null;
  }

  // The rule whose trained model watches this series, when no live band names it.
  async function ruleWatching(metric) {
    try {
      const ms = await getJSON("/api/v1/models?limit=1000");
      const keys = Object.keys(metric);
      const m = ms.find((x) => x.state === "trained" &&
        keys.every((k) => (k === "__name__" ? (!x.labels.__name__ || x.labels.__name__ === metric[k]) : x.labels[k] === metric[k])) &&
        Object.keys(x.labels).every((k) => metric[k] === x.labels[k]));
      return m ? m.rule : null;
    } catch (_) { return null; }
  }

  async function modelFor(rule, metric) {
    try {
      const ms = await getJSON("/api/v1/models?rule=" + encodeURIComponent(rule));
      const want = Object.keys(metric).filter((k) => k !== "__name__");
      return ms.find((m) => want.every((k) => m.labels[k] === metric[k]) &&
        (!m.labels.__name__ || m.labels.__name__ === metric.__name__)) || null;
    } catch (_) { return null; }
  }

  function fmt(v) {
    if (v == null || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    return a !== 0 && (a >= 1e6 || a < 1e-3) ? v.toExponential(3) : String(Math.round(v * 1000) / 1000);
  }

  function showTip(u, info) {
    const i = u.cursor.idx;
    if (i == null || u.cursor.left < 0) { tip.hidden = true; return; }
    const t = new Date(u.data[0][i] * 1000).toISOString().replace("T", " ").slice(0, 19);
    let html = "<div>" + t + "</div><div>value <b>" + fmt(u.data[1][i]) + "</b></div>";
    if (info.band) {
      const score = info.score[i], level = info.level[i];
      const n = score != null && score > 1 ? fmt(score - 1) : "inside the band";
      html += "<div>expected " + fmt(info.expected[i]) + " [" + fmt(info.lower[i]) + ", " + fmt(info.upper[i]) + "]</div>" +
        "<div>N " + n + " · level <b>" + (level == null ? "–" : level) + "</b></div>" +
        (info.stream ? "<div>anomaly scorer " + fmt(info.stream[i]) +
          (info.stream[i] >= 0.5 ? " <b>reported</b>" : "") + "</div>" : "") +
        "<div>" + (info.model ? info.model.algorithm + " · model v" + info.model.version : "model unknown") +
        " · rule " + info.rule + "</div>";
    }
    if (info.changes) html += ArgusChanges.near(u, info.changes);
    tip.innerHTML = html;
    tip.hidden = false;
    const r = u.over.getBoundingClientRect();
    tip.style.left = Math.min(r.left + u.cursor.left + 14, window.innerWidth - 260) + "px";
    tip.style.top = (r.top + u.cursor.top + 14) + "px";
  }

  function chart(title, xs, series, info) {
    const box = document.createElement("figure");
    box.className = "chart";
    box.innerHTML = "<h3></h3>";
    box.querySelector("h3").textContent = title;
    charts.appendChild(box);
    const data = [xs], opts = {
      width: Math.max(charts.clientWidth - 14, 300), height: info.band ? 260 : 300,
      series: [{}], scales: { x: { time: true } }, legend: { live: true },
      cursor: { focus: { prox: 16 } },
      hooks: { setCursor: [(u) => showTip(u, info)] },
    };
    if (info.changes && info.changes.length) {
      opts.hooks.draw = [(u) => ArgusChanges.draw(u, info.changes)];
      box.dataset.changes = String(ArgusChanges.within(info.changes, xs));
    }
    for (const s of series) { data.push(s.values); opts.series.push(s.opts); }
    if (info.band) {
      // series indices: 1 value, 2 expected, 3 lower, 4 upper
      opts.bands = [{ series: [4, 3], fill: "rgba(31,95,191,0.14)" }];
      box.dataset.band = "1";
      if (info.history) box.dataset.history = String(info.history);
      box.dataset.anomalies = String(info.anomalies);
      if (info.stream) box.dataset.reported = String(info.reported);
    }
    const u = new uPlot(opts, data, box);
    u.over.addEventListener("mouseleave", () => { tip.hidden = true; });
    plots.push(u);
    return box;
  }

  const PALETTE = ["#1f5fbf", "#1b7f3b", "#8e44ad", "#c0392b", "#16a085", "#d35400", "#2c3e50", "#7f8c8d"];

  async function run() {
    const expr = q.value.trim();
    closeList();
    if (!expr) { status.textContent = "Type a query."; return; }
    const rangeS = seconds($("#range").value);
    const endIn = $("#end").value;
    const end = endIn ? Math.floor(new Date(endIn).getTime() / 1000) : Math.floor(Date.now() / 1000);
    const start = end - rangeS;
    const step = Math.max(1, Math.ceil(rangeS / 300));
    const url = new URL(location.href);
    url.searchParams.set("q", expr); url.searchParams.set("range", $("#range").value);
    history.replaceState(null, "", url);
    status.textContent = "Running…";
    plots.forEach((p) => p.destroy()); plots = []; charts.innerHTML = "";
    let d;
    try { d = await range(expr, start, end, step); }
    catch (e) { status.textContent = "Error: " + e.message; return; }
    if (d.resultType !== "matrix") { status.textContent = "The query returned a " + d.resultType + "."; return; }
    const res = d.result;
    if (!res.length) { status.textContent = "No data in this range."; return; }
    const changes = await ArgusChanges.fetchRange(start, end);
    const xs = [];
    for (let t = start; t <= end; t += step) xs.push(t);
    const align = (m) => xs.map((t) => (m.has(t) ? m.get(t) : null));
    if (res.length <= 6) {
      let bands = 0;
      for (const s of res) {
        const vals = align(toMap(s.values));
        const b = await baselineFor(s.metric, start, end, step).catch(() => null);
        const info = { band: !!b, anomalies: 0, changes };
        const series = [{ values: vals, opts: { label: "value", stroke: "#1d2430", width: 1.5 } }];
        if (b) {
          bands++;
          info.rule = b.rule;
          info.history = b.history || 0;
          info.expected = align(b.argus_baseline_expected || new Map());
          info.lower = align(b.argus_baseline_lower); info.upper = align(b.argus_baseline_upper);
          info.level = align(b.argus_anomaly_level || new Map());
          info.score = align(b.argus_anomaly_score || new Map());
          info.stream = b.argus_anomaly_stream_score ? align(b.argus_anomaly_stream_score) : null;
          info.model = await modelFor(b.rule, s.metric);
          series.push({ values: info.expected, opts: { label: "expected", stroke: "#1f5fbf", dash: [6, 4], width: 1 } });
          series.push({ values: info.lower, opts: { label: "lower", stroke: "rgba(31,95,191,0.5)", width: 1 } });
          series.push({ values: info.upper, opts: { label: "upper", stroke: "rgba(31,95,191,0.5)", width: 1 } });
          for (let lv = 1; lv <= 4; lv++) {
            const pts = vals.map((v, i) => (info.level[i] != null && info.level[i] >= lv && info.level[i] < lv + 1 ? v : null));
            info.anomalies += pts.filter((v) => v != null).length;
            series.push({ values: pts, opts: { label: "level " + lv, stroke: LEVEL_COLORS[lv], fill: LEVEL_COLORS[lv],
              paths: () => null, points: { show: true, size: 9, fill: LEVEL_COLORS[lv], stroke: LEVEL_COLORS[lv] } } });
          }
          if (info.stream) {
            const pts = vals.map((v, i) => (info.stream[i] != null && info.stream[i] >= 0.5 ? v : null));
            info.reported = pts.filter((v) => v != null).length;
            series.push({ values: pts, opts: { label: "scorer", stroke: "#6c3483",
              paths: () => null, points: { show: true, size: 15, width: 2, fill: "rgba(0,0,0,0)", stroke: "#6c3483" } } });
          }
        }
        chart(labelStr(s.metric), xs, series, info);
      }
      ArgusChanges.list(charts, changes);
      status.textContent = res.length + " series" + (bands ? ", " + bands + " with a learned band" : "") +
        (changes.length ? "; " + changes.length + " change" + (changes.length > 1 ? "s" : "") + " marked" : "") + ".";
    } else {
      const shown = res.slice(0, 30);
      chart(expr, xs, shown.map((s, i) => ({ values: align(toMap(s.values)),
        opts: { label: labelStr(s.metric), stroke: PALETTE[i % PALETTE.length], width: 1 } })), { band: false, changes });
      ArgusChanges.list(charts, changes);
      status.textContent = res.length + " series" + (res.length > 30 ? " (first 30 drawn)" : "") +
        "; bands are drawn when a query returns at most 6 series.";
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  if (q.value.trim()) run();
})();
