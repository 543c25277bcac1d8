// Argus logs: a LogQL box with a label picker, a period, the volume chart
// (lines per interval by level, drawn with uPlot), the lines newest first with
// "show older lines", and the Templates view (the lines grouped by message).
// With `at` in the address the page shows five minutes either side of that
// moment and marks the nearest line.
(function () {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const form = $("#logs-form");
  if (!form) return;
  const q = $("#q"), rangeSel = $("#range"), status = $("#logs-status"), errBox = $("#logs-error");
  const volume = $("#volume"), linesBody = $("#log-lines tbody"), more = $("#more");
  const tmplBody = $("#log-templates tbody");
  const PAGE = 100, AROUND = 50, AROUND_MS = 5 * 60 * 1000, TEMPLATE_LINES = 5000;
  const LEVEL_COLORS = { error: "#c0262d", err: "#c0262d", fatal: "#a8071a", critical: "#a8071a",
    warn: "#e07b00", warning: "#e07b00", info: "#1f5fbf", debug: "#7f8c8d", trace: "#9aa6b6" };
  const PALETTE = ["#1b7f3b", "#8e44ad", "#16a085", "#d35400", "#2c3e50"];
  const STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  let tab = form.dataset.tab === "templates" ? "templates" : "lines";
  let at = form.dataset.at ? Number(form.dataset.at) : null;
  let from = form.dataset.from ? Number(form.dataset.from) : null;
  let to = form.dataset.to ? Number(form.dataset.to) : null;
  let cur = null; // { query, start, end, oldest, seen, templatesFor }
  let plot = null;

  // ---- helpers ------------------------------------------------------------
  async function getData(url) {
    const r = await fetch(url, { cache: "no-store" });
    const text = await r.text();
    let d = null;
    try { d = JSON.parse(text); } catch (_) { /* Loki's errors are plain text */ }
    if (!r.ok || !d || d.status !== "success") {
      throw new Error((d && d.error) || text.trim() || "the server answered " + r.status);
    }
    return d.data;
  }
  const ns = (ms) => (BigInt(Math.round(ms)) * 1000000n).toString();
  const nsToMs = (t) => Number(BigInt(t) / 1000000n);
  const cmpNs = (a, b) => { const x = BigInt(a), y = BigInt(b); return x < y ? -1 : x > y ? 1 : 0; };
  const fmtTime = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 23);
  function seconds(r) {
    const m = /^(\d+)([smhd])$/.exec(r);
    return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2]] : 3600;
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function showError(e) {
    errBox.textContent = "The query could not be run: " + e.message +
      (/parse|syntax|unexpected|expected/i.test(e.message)
        ? ". A log query starts with a stream selector, such as {service=\"pay\"} |= \"error\"." : "");
    errBox.hidden = false;
  }

  // The period shown, in Unix milliseconds.
  function period() {
    if (rangeSel.value) {
      const end = Date.now();
      return { start: end - seconds(rangeSel.value) * 1000, end };
    }
    if (at != null) return { start: at - AROUND_MS, end: at + AROUND_MS };
    if (from != null) return { start: from, end: to != null ? to : Date.now() };
    const end = Date.now();
    return { start: end - 3600 * 1000, end };
  }

  function saveAddress() {
    const u = new URL(location.href);
    for (const k of ["query", "range", "from", "to", "at", "tab"]) u.searchParams.delete(k);
    u.searchParams.set("query", q.value.trim());
    if (rangeSel.value) u.searchParams.set("range", rangeSel.value);
    else if (at != null) u.searchParams.set("at", String(at));
    else if (from != null) {
      u.searchParams.set("from", String(from));
      if (to != null) u.searchParams.set("to", String(to));
    }
    if (tab === "templates") u.searchParams.set("tab", "templates");
    history.replaceState(null, "", u);
  }

  // ---- volume -------------------------------------------------------------
  async function drawVolume(query, p) {
    const span = (p.end - p.start) / 1000;
    const step = STEPS.find((s) => span / s <= 120) || 7200;
    // Windows end at multiples of the step, the last one at or after the period's end.
    const start = Math.ceil(p.start / 1000 / step) * step, end = Math.ceil(p.end / 1000 / step) * step;
    const expr = "sum by (level) (count_over_time(" + query + " [" + step + "s]))";
    const params = new URLSearchParams({ query: expr, start: ns(start * 1000), end: ns(end * 1000), step: step + "s" });
    const c = cur;
    const d = await getData("/loki/api/v1/query_range?" + params);
    if (c !== cur) return;
    const xs = [];
    for (let t = start; t <= end; t += step) xs.push(t);
    const series = (d.result || []).map((s) => {
      const m = new Map(s.values.map(([t, v]) => [Math.round(Number(t)), Number(v)]));
      return { name: s.metric.level || (Object.keys(s.metric).length ? JSON.stringify(s.metric) : "all lines"),
        values: xs.map((t) => m.get(t) || 0) };
    });
    series.sort((a, b) => a.name.localeCompare(b.name));
    const total = series.reduce((n, s) => n + s.values.reduce((a, b) => a + b, 0), 0);
    volume.dataset.series = String(series.length);
    volume.dataset.total = String(total);
    volume.querySelector("h3").textContent = "Lines per " + (step >= 60 ? step / 60 + " min" : step + " s") +
      (series.length > 1 || (series[0] && series[0].name !== "all lines") ? ", by level" : "");
    const changes = await ArgusChanges.fetchRange(start, end);
    if (c !== cur) return;
    volume.dataset.changes = String(ArgusChanges.within(changes, xs));
    if (plot) { plot.destroy(); plot = null; }
    volume.querySelectorAll(".changes").forEach((n) => n.remove());
    if (!series.length) series.push({ name: "all lines", values: xs.map(() => 0) });
    // Stacked bars: each series is drawn as the sum of itself and those after it.
    const data = [xs], opts = {
      width: Math.max(volume.clientWidth - 14, 300), height: 150,
      series: [{}], scales: { x: { time: true } }, legend: { live: false },
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: { setSelect: [(u) => {
        if (u.select.width < 4) return;
        const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
        rangeSel.value = ""; at = null; from = Math.floor(a * 1000); to = Math.ceil(b * 1000);
        ensureChosen(); run();
      }], draw: [(u) => ArgusChanges.draw(u, changes)] },
    };
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.9, 40] }) : undefined;
    const acc = xs.map(() => 0);
    const stacked = series.slice().reverse().map((s) => s.values.map((v, i) => (acc[i] += v)));
    stacked.reverse();
    series.forEach((s, i) => {
      const c = LEVEL_COLORS[s.name.toLowerCase()] || (s.name === "all lines" ? "#5d6878" : PALETTE[i % PALETTE.length]);
      data.push(stacked[i]);
      opts.series.push({ label: s.name, stroke: c, fill: c + "cc", width: 0, paths: bars, points: { show: false } });
    });
    plot = new uPlot(opts, data, volume);
    ArgusChanges.list(volume, changes);
  }

  function ensureChosen() {
    if (!rangeSel.querySelector('option[value=""]')) {
      const o = el("option", null, "chosen period");
      o.value = "";
      rangeSel.prepend(o);
    }
    rangeSel.value = "";
  }

  // ---- lines --------------------------------------------------------------
  function flatten(d) {
    const out = [];
    for (const s of d.result || []) {
      for (const v of s.values) out.push({ ts: v[0], line: v[1], labels: s.stream });
    }
    return out;
  }

  async function fetchLines(query, start, end, limit, direction) {
    const p = new URLSearchParams({ query, start: ns(start), end, limit: String(limit), direction });
    return flatten(await getData("/loki/api/v1/query_range?" + p));
  }

  function row(e) {
    const tr = el("tr");
    tr.dataset.ts = e.ts;
    tr.appendChild(el("td", "t", fmtTime(nsToMs(e.ts))));
    const chips = el("td", "chips");
    for (const k of Object.keys(e.labels).sort()) {
      const v = e.labels[k];
      const c = el("span", k === "level" ? "lvl lvl-" + v.toLowerCase() : "label", k === "level" ? v : k + "=" + v);
      chips.appendChild(c);
      chips.appendChild(document.createTextNode(" "));
    }
    tr.appendChild(chips);
    tr.appendChild(el("td", "line", e.line));
    return tr;
  }

  function add(entries, c) {
    if (c !== cur) return 0;
    entries.sort((a, b) => cmpNs(b.ts, a.ts));
    let n = 0;
    for (const e of entries) {
      const key = e.ts + "\u0000" + JSON.stringify(e.labels) + "\u0000" + e.line;
      if (cur.seen.has(key)) continue;
      cur.seen.add(key);
      linesBody.appendChild(row(e));
      if (cur.oldest == null || cmpNs(e.ts, cur.oldest) < 0) cur.oldest = e.ts;
      n++;
    }
    return n;
  }

  function lineStatus(extra) {
    const n = cur.seen.size;
    status.textContent = n
      ? n + " line" + (n === 1 ? "" : "s") + " shown, newest first, from " + fmtTime(cur.start) + " to " + fmtTime(cur.end) + " UTC." + (extra || "")
      : "No lines match in this period.";
  }

  async function firstLines() {
    const c = cur;
    if (at != null) {
      const [after, before] = await Promise.all([
        fetchLines(cur.query, at, ns(cur.end + 1), AROUND, "forward"),
        fetchLines(cur.query, cur.start, ns(at), AROUND, "backward"),
      ]);
      if (c !== cur) return;
      add(after.concat(before), c);
      more.hidden = before.length < AROUND;
      let best = null, dist = Infinity;
      for (const tr of linesBody.rows) {
        const dd = Math.abs(nsToMs(tr.dataset.ts) - at);
        if (dd < dist) { dist = dd; best = tr; }
      }
      if (best) {
        best.classList.add("at");
        best.setAttribute("aria-current", "true");
        best.scrollIntoView({ block: "center" });
      }
      lineStatus(best ? " The marked line is the nearest to " + fmtTime(at) + "." : "");
      return;
    }
    const got = await fetchLines(cur.query, cur.start, ns(cur.end + 1), PAGE, "backward");
    if (c !== cur) return;
    add(got, c);
    more.hidden = got.length < PAGE;
    lineStatus();
  }

  more.addEventListener("click", async () => {
    if (!cur || cur.oldest == null) return;
    more.disabled = true;
    const c = cur;
    try {
      const end = (BigInt(cur.oldest) + 1n).toString();
      const got = await fetchLines(c.query, c.start, end, PAGE, "backward");
      more.disabled = false;
      if (c !== cur) return;
      const n = add(got, c);
      more.hidden = got.length < PAGE || n === 0;
      lineStatus();
    } catch (e) { showError(e); }
    more.disabled = false;
  });

  // ---- templates ----------------------------------------------------------
  function sparkline(values) {
    const W = 140, H = 26, svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("class", "spark");
    svg.setAttribute("role", "img");
    const max = Math.max(1, ...values), w = W / Math.max(1, values.length);
    svg.setAttribute("aria-label", "lines per interval, at most " + max);
    values.forEach((v, i) => {
      if (!v) return;
      const r = document.createElementNS(svgNS, "rect");
      const h = Math.max(1, (v / max) * (H - 2));
      r.setAttribute("x", (i * w).toFixed(1)); r.setAttribute("width", Math.max(1, w - 1).toFixed(1));
      r.setAttribute("y", (H - h).toFixed(1)); r.setAttribute("height", h.toFixed(1));
      svg.appendChild(r);
    });
    return svg;
  }

  async function loadTemplates() {
    if (!cur || cur.templatesFor === cur.query) return;
    cur.templatesFor = cur.query;
    tmplBody.innerHTML = "";
    const p = new URLSearchParams({ query: cur.query, start: String(cur.start / 1000), end: String(cur.end / 1000),
      limit: String(TEMPLATE_LINES), buckets: "30" });
    status.textContent = "Grouping lines…";
    const c = cur;
    const d = await getData("/api/argus/v1/logs/templates?" + p);
    if (c !== cur) return;
    for (const t of d.templates) {
      const tr = el("tr");
      tr.appendChild(el("td", "num", String(t.count)));
      const cell = el("td", "tmpl");
      const b = el("button", "link", t.template);
      b.type = "button";
      b.dataset.filter = t.filter;
      b.title = t.filter ? "Show the lines containing " + JSON.stringify(t.filter) : "This template has no fixed text to search for";
      cell.appendChild(b);
      if (t.examples.length) {
        const det = el("details");
        det.appendChild(el("summary", "muted", "examples"));
        for (const x of t.examples) det.appendChild(el("pre", "ex", x));
        cell.appendChild(det);
      }
      tr.appendChild(cell);
      const sp = el("td");
      sp.appendChild(sparkline(t.series));
      tr.appendChild(sp);
      tr.appendChild(el("td", "t", fmtTime(Date.parse(t.first))));
      tr.appendChild(el("td", "t", fmtTime(Date.parse(t.last))));
      tmplBody.appendChild(tr);
    }
    status.textContent = d.templates.length + " template" + (d.templates.length === 1 ? "" : "s") + " in " + d.lines +
      " line" + (d.lines === 1 ? "" : "s") + (d.truncated ? " (the newest " + d.lines + " of the period)" : "") + ".";
  }

  tmplBody.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-filter]");
    if (!b) return;
    if (!b.dataset.filter) { status.textContent = "This template has no fixed text to search for."; return; }
    q.value = q.value.trim() + " |= " + JSON.stringify(b.dataset.filter);
    setTab("lines");
    run();
  });

  function setTab(t) {
    tab = t;
    for (const a of document.querySelectorAll("nav.tabs a")) {
      if (a.dataset.tab === t) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    $("#lines-view").hidden = t !== "lines";
    $("#templates-view").hidden = t !== "templates";
    saveAddress();
  }

  document.querySelectorAll("nav.tabs a").forEach((a) => a.addEventListener("click", (e) => {
    e.preventDefault();
    setTab(a.dataset.tab);
    if (tab === "templates") loadTemplates().catch(showError);
    else if (cur) lineStatus();
  }));

  // ---- label picker -------------------------------------------------------
  const nameSel = $("#label-name"), valueSel = $("#label-value"), addBtn = $("#label-add");
  nameSel.addEventListener("change", async () => {
    valueSel.innerHTML = "";
    valueSel.disabled = addBtn.disabled = true;
    if (!nameSel.value) { valueSel.appendChild(el("option", null, "—")); return; }
    const p = period();
    const params = new URLSearchParams({ start: ns(p.start), end: ns(p.end) });
    try {
      const vals = await getData("/loki/api/v1/label/" + encodeURIComponent(nameSel.value) + "/values?" + params);
      for (const v of vals || []) valueSel.appendChild(el("option", null, v));
      valueSel.disabled = addBtn.disabled = !(vals && vals.length);
    } catch (e) { showError(e); }
  });

  const MATCHER = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*,?/y;
  addBtn.addEventListener("click", () => {
    const name = nameSel.value, value = valueSel.value;
    const m = name + "=" + JSON.stringify(value);
    const v = q.value.trim();
    const kept = [];
    let rest = null;
    if (v.startsWith("{")) {
      MATCHER.lastIndex = 1;
      let x;
      while ((x = MATCHER.exec(v))) {
        // The catch-all the page starts with, and an earlier choice for this label, give way.
        if (!(x[2] === "=~" && x[3] === '".+"') && x[1] !== name) kept.push(x[1] + x[2] + x[3]);
        if (v[MATCHER.lastIndex] === "}") { rest = v.slice(MATCHER.lastIndex + 1); break; }
      }
    }
    kept.push(m);
    q.value = "{" + kept.join(", ") + "}" + (rest || "");
    run();
  });

  // ---- running ------------------------------------------------------------
  async function run() {
    const query = q.value.trim();
    errBox.hidden = true;
    if (!query) { status.textContent = "Type a query."; return; }
    const p = period();
    const c = cur = { query, start: p.start, end: p.end, oldest: null, seen: new Set(), templatesFor: null };
    linesBody.innerHTML = "";
    tmplBody.innerHTML = "";
    more.hidden = true;
    saveAddress();
    status.textContent = "Running…";
    try {
      await drawVolume(query, p);
      await firstLines();
      if (tab === "templates") await loadTemplates();
    } catch (e) {
      if (c !== cur) return;
      status.textContent = "";
      showError(e);
    }
  }

  rangeSel.addEventListener("change", () => {
    if (rangeSel.value) { at = null; from = null; to = null; }
    run();
  });
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  run();
})();
