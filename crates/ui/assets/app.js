// Argus UI: keyboard shortcuts and the one-click actions of every page.
// Actions call the JSON APIs, then ask htmx to refresh the page's live section.
(function () {
  "use strict";
  const $ = (s, r) => (r || document).querySelector(s);

  function toast(msg) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = msg;
    t.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => t.classList.remove("show"), 3000);
  }
  window.argusToast = toast;

  function refresh() {
    if (window.htmx) window.htmx.trigger(document.body, "argus:refresh");
    else location.reload();
  }

  async function call(method, url, body) {
    const opt = { method, headers: { "X-Argus-User": "ui" } };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    const r = await fetch(url, opt);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
    if (!r.ok) {
      const msg = typeof data === "string" ? data : (data && data.error) || r.statusText;
      throw new Error(msg + " (HTTP " + r.status + ")");
    }
    return data;
  }
  window.argusCall = call;

  // The banner on every page: what degrades Argus now (the alert store failing on a full
  // disk, say), from /api/argus/v1/status; checked again every 15 seconds.
  async function degraded() {
    const b = $("#degraded");
    if (!b) return;
    try {
      const r = await fetch("/api/argus/v1/status", { cache: "no-store" });
      const body = await r.json();
      const list = (body && body.data && body.data.degraded) || [];
      b.innerHTML = list.map((m) => "<p>" + esc(m) + "</p>").join("");
      b.hidden = list.length === 0;
    } catch (_) {
      b.innerHTML = "<p>Argus is not answering; this page may be out of date.</p>";
      b.hidden = false;
    }
  }
  degraded();
  setInterval(degraded, 15000);

  // Who is signed in, with a sign-out button, when the server asks for sign-in.
  async function who() {
    const el = $("#who");
    if (!el) return;
    try {
      const r = await fetch("/api/argus/v1/whoami", { cache: "no-store" });
      if (!r.ok) return;
      const d = (await r.json()).data;
      if (!d || !d.user) return;
      el.innerHTML = '<span class="user">' + esc(d.user) + "</span> · " + esc(d.role) +
        ' <form method="post" action="/ui/logout"><button type="submit">Sign out</button></form>';
      el.hidden = false;
    } catch (_) { /* the banner above reports a server that does not answer */ }
  }
  who();

  // Keyboard: "g" then a page key; "?" shows the list; "/" focuses the query box.
  let pendingG = false;
  const keys = {};
  document.querySelectorAll("header nav a").forEach((a) => {
    const m = /g then (\w)/.exec(a.title);
    if (m) keys[m[1]] = a.href;
  });
  document.addEventListener("keydown", (e) => {
    const tag = (e.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (pendingG && keys[e.key]) { location.href = keys[e.key]; pendingG = false; return; }
    pendingG = e.key === "g";
    if (e.key === "?") { const d = $("#keys"); if (d && d.showModal) d.showModal(); }
    if (e.key === "/" && $("#q")) { e.preventDefault(); $("#q").focus(); }
  });

  const verbs = { ack: "Acknowledged", unack: "Unacknowledged", resolve: "Resolved", assistant: "Asked the assistant about" };

  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }

  async function showHistory(btn) {
    const fp = btn.dataset.history;
    const row = document.getElementById("h-" + fp);
    if (!row) return;
    const open = row.hidden;
    row.hidden = !open;
    btn.setAttribute("aria-expanded", String(open));
    if (!open) return;
    const cell = row.firstElementChild;
    cell.textContent = "Loading…";
    const params = new URLSearchParams({ limit: "50" });
    params.append("filter", "alertname=" + JSON.stringify(cell.dataset.alertname));
    try {
      const d = await call("GET", "/api/argus/v1/alert-history?" + params);
      const rows = (d && d.data) || [];
      if (!rows.length) { cell.textContent = "No history yet."; return; }
      cell.innerHTML = "<table><thead><tr><th>time</th><th>type</th><th>what</th><th>who / target</th><th>comment</th></tr></thead><tbody>" +
        rows.map((h) => "<tr><td>" + esc(h.time) + "</td><td>" + esc(h.type) + "</td><td>" + esc(h.kind) +
          "</td><td>" + esc(h.who || h.target || "") + "</td><td>" + esc(h.comment || "") + "</td></tr>").join("") +
        "</tbody></table>";
    } catch (err) {
      cell.textContent = "Cannot load the history: " + err.message;
    }
  }

  document.addEventListener("click", async (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    try {
      if (b.dataset.runbook) {
        b.disabled = true;
        const dry = b.dataset.dryRun === "1";
        const d = await call("POST", "/api/argus/v1/incidents/" + encodeURIComponent(b.dataset.incident) + "/runbooks/" + encodeURIComponent(b.dataset.runbook), { who: "ui", dry_run: dry });
        const st = d && d.data ? d.data.state : "";
        toast((dry ? "Dry run of " : "Runbook ") + b.dataset.runbook + (st ? ": " + st.replace(/_/g, " ") : ""));
        refresh();
      } else if (b.dataset.executionAction) {
        b.disabled = true;
        await call("POST", "/api/argus/v1/runbooks/executions/" + encodeURIComponent(b.dataset.execution) + "/" + b.dataset.executionAction, { who: "ui" });
        toast((b.dataset.executionAction === "approve" ? "Approved" : "Cancelled") + " execution " + b.dataset.execution);
        refresh();
      } else if (b.dataset.killSwitch) {
        const on = b.dataset.killSwitch === "on";
        if (on && !confirm("Stop every runbook execution now, and refuse new ones until the kill switch is turned off?")) return;
        b.disabled = true;
        await call("POST", "/api/argus/v1/runbooks/kill-switch", { who: "ui", on: on });
        toast(on ? "Every runbook is stopped" : "Runbooks may run again");
        refresh();
      } else if (b.dataset.incidentAction) {
        b.disabled = true;
        const id = b.dataset.incident;
        await call("POST", "/api/argus/v1/incidents/" + encodeURIComponent(id) + "/" + b.dataset.incidentAction, { who: "ui" });
        toast(verbs[b.dataset.incidentAction] + " incident " + id);
        refresh();
      } else if (b.dataset.action) {
        b.disabled = true;
        await call("POST", "/api/v2/alerts/" + b.dataset.fp + "/" + b.dataset.action, { who: "ui" });
        toast(verbs[b.dataset.action] + " " + b.dataset.fp);
        refresh();
      } else if (b.dataset.expire) {
        b.disabled = true;
        await call("DELETE", "/api/v2/silence/" + encodeURIComponent(b.dataset.expire));
        toast("Expired silence " + b.dataset.expire);
        refresh();
      } else if (b.dataset.retrain) {
        b.disabled = true;
        const body = { rule: b.dataset.retrain };
        if (b.dataset.match) body.match = b.dataset.match;
        const d = await call("POST", "/api/v1/models/train", body);
        toast("Training job " + (d && d.data ? d.data.id : "") + " started");
        setTimeout(refresh, 1000);
      } else if (b.dataset.history) {
        await showHistory(b);
      }
    } catch (err) {
      b.disabled = false;
      toast("Failed: " + err.message);
    }
  });

  // Matchers as Alertmanager's API takes them, from `name="value"` lines.
  function parseMatchers(text) {
    const out = [];
    for (const raw of text.split(/\n|,(?=\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=|!=|=~|!~))/)) {
      const line = raw.trim();
      if (!line) continue;
      const m = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*)$/.exec(line);
      if (!m) throw new Error("not a matcher: " + line);
      let v = m[3].trim();
      if (v.startsWith('"')) {
        try { v = JSON.parse(v); } catch (_) { throw new Error("bad quoted value in: " + line); }
      }
      out.push({ name: m[1], value: v, isRegex: m[2].includes("~"), isEqual: !m[2].startsWith("!") });
    }
    if (!out.length) throw new Error("give at least one matcher");
    return out;
  }

  const sf = document.getElementById("silence-form");
  if (sf) {
    sf.addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = new FormData(sf);
      try {
        const now = Date.now();
        const body = {
          matchers: parseMatchers(f.get("matchers")),
          startsAt: new Date(now).toISOString(),
          endsAt: new Date(now + Number(f.get("duration")) * 1000).toISOString(),
          createdBy: f.get("createdBy"),
          comment: f.get("comment"),
        };
        const d = await call("POST", "/api/v2/silences", body);
        toast("Created silence " + d.silenceID);
        sf.reset();
        document.getElementById("s-matchers").value = "";
        refresh();
      } catch (err) {
        toast("Failed: " + err.message);
      }
    });
  }
})();
