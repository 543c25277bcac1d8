// Changes on charts: the deploys and configuration changes sent to Argus as
// events (kept as lines of the log store's `{kind="deploy"|"config_change"}`
// streams), fetched for a chart's range through Loki's query_range, drawn as
// dashed vertical lines with a flag, named in a tooltip near them and listed
// under the charts. Used by the explorer and the Logs page.
window.ArgusChanges = (function () {
  "use strict";
  const COLORS = { deploy: "#7b3fb0", config_change: "#b06a00" };
  const NAMES = { deploy: "deploy", config_change: "config change" };

  function esc(t) {
    return String(t).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
  }

  // The changes between start and end (Unix seconds), oldest first; none when
  // logs are off or the query fails (the charts are drawn without them).
  async function fetchRange(start, end) {
    const url = "/loki/api/v1/query_range?direction=forward&limit=200&query=" +
      encodeURIComponent('{kind=~"deploy|config_change"}') + "&start=" + Math.floor(start) + "&end=" + Math.ceil(end + 1);
    let d = null;
    try {
      const r = await fetch(url);
      if (!r.ok) return [];
      d = await r.json();
    } catch (_) { return []; }
    if (!d || d.status !== "success" || !d.data || !Array.isArray(d.data.result)) return [];
    const out = [];
    for (const st of d.data.result) {
      for (const v of st.values || []) {
        let ev = {};
        try { ev = JSON.parse(v[1]); } catch (_) { /* a line that is not JSON: named by its stream */ }
        const what = (st.stream.type || ev.type || "") +
          (ev.subject ? " · " + ev.subject : "") + (st.stream.source ? " (" + st.stream.source + ")" : "");
        out.push({ t: Number(v[0]) / 1e9, kind: st.stream.kind === "config_change" ? "config_change" : "deploy", what });
      }
    }
    return out.sort((a, b) => a.t - b.t);
  }

  // A uPlot draw hook: one dashed line and a flag a change.
  function draw(u, changes) {
    const ctx = u.ctx, { left, top, width, height } = u.bbox, px = window.devicePixelRatio || 1;
    ctx.save();
    ctx.lineWidth = px;
    ctx.setLineDash([4 * px, 3 * px]);
    for (const c of changes) {
      const x = Math.round(u.valToPos(c.t, "x", true));
      if (x < left || x > left + width) continue;
      ctx.strokeStyle = ctx.fillStyle = COLORS[c.kind];
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      ctx.fillRect(x - 3 * px, top, 6 * px, 6 * px);
    }
    ctx.restore();
  }

  // Tooltip lines (HTML) for the changes within 6 px of the cursor.
  function near(u, changes) {
    let html = "";
    for (const c of changes) {
      if (Math.abs(u.valToPos(c.t, "x") - u.cursor.left) <= 6) {
        html += '<div class="tip-change"><b>' + NAMES[c.kind] + "</b> " + esc(c.what) + "</div>";
      }
    }
    return html;
  }

  // Adds the list of `changes` to `parent` (nothing when there are none).
  function list(parent, changes) {
    if (!changes.length) return;
    const box = document.createElement("section");
    box.className = "changes";
    box.innerHTML = "<h3>Changes in this range</h3><ul></ul>";
    const ul = box.querySelector("ul");
    for (const c of changes) {
      const li = document.createElement("li");
      li.style.borderLeftColor = COLORS[c.kind];
      li.textContent = new Date(c.t * 1000).toISOString().replace("T", " ").slice(0, 19) + "  " +
        NAMES[c.kind] + "  " + c.what;
      ul.appendChild(li);
    }
    parent.appendChild(box);
  }

  // How many of `changes` fall between the first and last of `xs`.
  function within(changes, xs) {
    return changes.filter((c) => c.t >= xs[0] && c.t <= xs[xs.length - 1]).length;
  }

  return { fetchRange, draw, near, list, within };
})();
