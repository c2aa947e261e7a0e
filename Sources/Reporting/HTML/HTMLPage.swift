/// The HTML report's page: markup, style and script, with the data block put in.
///
/// Everything is inline and the Content Security Policy forbids every fetch, so the
/// file opens from disk with no network and makes no request.
enum HTMLPage {
    static func render(title: String, data: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
        <title>\(title)</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        <header id="top"><h1>\(title)</h1><p id="meta"></p></header>
        <main>
        <section id="overview">
          <dl id="totals"></dl>
          <h2>By diagnosis</h2>
          <div id="categories"></div>
          <h2>Connections over time</h2>
          <div id="chart-wrap"><canvas id="chart" aria-label="every connection as a bar on one time axis"></canvas><div id="axis"></div><div id="tip" hidden></div></div>
          <div id="controls">
            <input id="search" type="search" placeholder="Search client, server, path, code, rule… ( / )" aria-label="search">
            <select id="category" aria-label="category"><option value="">every category</option></select>
            <select id="severity" aria-label="severity"><option value="">every severity</option></select>
            <span id="shown"></span>
          </div>
          <div id="table" role="table">
            <div class="row head" role="row"></div>
            <div id="rows" tabindex="0"><div id="rows-inner"></div></div>
          </div>
          <p class="hint">Keys: <kbd>j</kbd>/<kbd>k</kbd> or arrows move, <kbd>Enter</kbd> opens, <kbd>Esc</kbd> goes back, <kbd>/</kbd> searches.</p>
        </section>
        <section id="detail" hidden></section>
        </main>
        <script type="application/json" id="wsd-data">\(data)</script>
        <script>
        \(script)
        </script>
        </body>
        </html>

        """
    }

    static let style = #"""
    :root { --bg:#fbfbfa; --panel:#fff; --fg:#1d1f23; --muted:#5f6670; --line:#e1e3e7; --mark:#5b6270; --sel:#eef1f6;
      --ok:#2e7d4f; --info:#3d6fb6; --warning:#a86d12; --error:#c0392b; color-scheme: light dark; }
    @media (prefers-color-scheme: dark) { :root { --bg:#15171b; --panel:#1c1f25; --fg:#e5e6e9; --muted:#9aa1ab; --line:#2d3139;
      --mark:#aab1bd; --sel:#262b34; --ok:#55b57f; --info:#77a3e6; --warning:#e2aa50; --error:#f0715f; } }
    * { box-sizing: border-box; }
    body { margin:0; background:var(--bg); color:var(--fg); font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
    header, main { max-width:1280px; margin:0 auto; padding:0 24px; }
    header { padding-top:18px; } h1 { font-size:20px; margin:0 0 2px; font-weight:600; } #meta { color:var(--muted); margin:0 0 8px; }
    h2 { font-size:15px; font-weight:600; margin:22px 0 8px; } h3 { font-size:14px; margin:16px 0 6px; }
    a { color:inherit; } code, pre, .mono { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size:12.5px; }
    #totals { display:flex; flex-wrap:wrap; gap:10px 28px; margin:8px 0 0; }
    #totals div { min-width:90px; } #totals dt { color:var(--muted); font-size:12px; } #totals dd { margin:0; font-size:18px; font-variant-numeric:tabular-nums; }
    #categories { display:flex; flex-wrap:wrap; gap:6px; }
    .chip { display:inline-flex; align-items:center; gap:6px; border:1px solid var(--line); background:var(--panel); color:var(--fg);
      border-radius:14px; padding:3px 10px; font:inherit; cursor:pointer; }
    .chip[aria-pressed="true"] { border-color:var(--fg); } .chip .n { font-variant-numeric:tabular-nums; color:var(--muted); }
    .dot { width:9px; height:9px; border-radius:50%; display:inline-block; flex:none; }
    .sev-ok { background:var(--ok); } .sev-info { background:var(--info); } .sev-warning { background:var(--warning); } .sev-error { background:var(--error); }
    #chart-wrap { position:relative; background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:8px 8px 4px; }
    #chart { display:block; width:100%; cursor:pointer; } #axis { position:relative; height:18px; color:var(--muted); font-size:11px; }
    #axis span { position:absolute; transform:translateX(-50%); white-space:nowrap; }
    #tip { position:absolute; pointer-events:none; background:var(--panel); border:1px solid var(--line); border-radius:4px; padding:4px 8px;
      font-size:12px; box-shadow:0 2px 6px rgba(0,0,0,.15); max-width:420px; z-index:2; }
    #controls { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:14px 0 8px; }
    #controls input, #controls select { font:inherit; color:var(--fg); background:var(--panel); border:1px solid var(--line); border-radius:4px; padding:5px 8px; }
    #search { flex:1 1 320px; } #shown { color:var(--muted); }
    #table { border:1px solid var(--line); border-radius:6px; background:var(--panel); overflow:hidden; }
    .row { display:grid; grid-template-columns: 52px 150px 92px minmax(120px,1fr) minmax(120px,1fr) minmax(80px,1fr) minmax(120px,1.2fr) 78px 70px 76px;
      gap:0 10px; align-items:center; height:30px; padding:0 10px; border-bottom:1px solid var(--line); text-decoration:none; white-space:nowrap; }
    .row > * { overflow:hidden; text-overflow:ellipsis; } .row .num { text-align:right; font-variant-numeric:tabular-nums; }
    .row.head { font-size:12px; color:var(--muted); background:var(--bg); }
    .row.head button { all:unset; cursor:pointer; } .row.head button[aria-sort]::after { content:" ↓"; } .row.head button[aria-sort="ascending"]::after { content:" ↑"; }
    #rows { height:min(60vh, 640px); overflow:auto; position:relative; outline:none; } #rows-inner { position:relative; }
    #rows .row { position:absolute; left:0; right:0; } #rows .row:hover, #rows .row.selected { background:var(--sel); }
    #rows .row.selected { box-shadow: inset 3px 0 0 var(--fg); }
    .hint { color:var(--muted); font-size:12px; } kbd { border:1px solid var(--line); border-radius:3px; padding:0 4px; font-size:11px; }
    #detail nav { display:flex; gap:16px; align-items:center; margin:14px 0 0; color:var(--muted); }
    .badge { display:inline-flex; gap:6px; align-items:center; border:1px solid var(--line); border-radius:12px; padding:1px 9px; font-size:12.5px; }
    .panel { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:12px 16px; }
    .summary { font-size:16px; margin:0 0 8px; } .explanation { margin:0 0 8px; } .fix { margin:0; }
    table { border-collapse:collapse; width:100%; } td, th { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
    th { font-weight:600; font-size:12px; color:var(--muted); }
    .muted { color:var(--muted); } .bad { color:var(--error); }
    #timeline { width:100%; display:block; user-select:none; } #timeline text { fill:var(--muted); font-size:11px; }
    #timeline .lane { stroke:var(--line); } #timeline .mark { fill:var(--mark); stroke:var(--mark); }
    #timeline .mark.hollow { fill:none; } #timeline .mark.close { fill:var(--fg); stroke:var(--fg); }
    #timeline .mark.bad, #timeline .agg.bad { fill:var(--error); stroke:var(--error); } #timeline .agg { fill:var(--mark); opacity:.75; }
    #timeline .pair { stroke:var(--mark); stroke-width:1; opacity:.6; } #timeline .gap { stroke:var(--error); stroke-dasharray:3 3; }
    #timeline .end { stroke:var(--fg); stroke-width:1.5; } #timeline .idle { stroke:var(--muted); stroke-dasharray:2 3; }
    .tools { display:flex; gap:6px; align-items:center; margin:0 0 6px; } .tools button { font:inherit; color:var(--fg); background:var(--panel); border:1px solid var(--line); border-radius:4px; padding:2px 9px; cursor:pointer; }
    .legend { color:var(--muted); font-size:12px; margin-left:auto; }
    #frames { height:300px; overflow:auto; position:relative; border:1px solid var(--line); border-radius:6px; background:var(--panel); }
    .frow { position:absolute; left:0; right:0; height:22px; display:grid; grid-template-columns:70px 110px 50px 110px 90px 40px 48px 60px 1fr; gap:0 8px; padding:0 10px; align-items:center;
      font-size:12.5px; font-variant-numeric:tabular-nums; white-space:nowrap; border-bottom:1px solid var(--line); }
    .frow.head { position:sticky; top:0; background:var(--bg); color:var(--muted); z-index:1; }
    pre { white-space:pre-wrap; word-break:break-all; margin:0; }
    .grid2 { display:grid; grid-template-columns:1fr 1fr; gap:16px; } @media (max-width:900px) { .grid2 { grid-template-columns:1fr; } }
    @media print { #controls, .hint, .tools, #detail nav, #tip { display:none !important; } body { background:#fff; color:#000; }
      #rows { height:auto; overflow:visible; } #rows .row { position:static; } #frames { height:auto; overflow:visible; } .frow { position:static; }
      .panel, #table, #chart-wrap { border-color:#bbb; break-inside:avoid; } }
    """#

    static let script = #"""
    "use strict";
    const D = JSON.parse(document.getElementById("wsd-data").textContent);
    const C = D.connections;
    const SEV = ["ok", "info", "warning", "error"];
    const ROW = 30, FROW = 22;
    const $ = (s) => document.querySelector(s);
    function el(tag, props, ...kids) {
      const e = document.createElement(tag);
      for (const k in props || {}) { if (k === "text") e.textContent = props[k]; else if (k === "cls") e.className = props[k]; else e.setAttribute(k, props[k]); }
      for (const k of kids) if (k != null) e.append(k);
      return e;
    }
    function svg(tag, attrs) { const e = document.createElementNS("http://www.w3.org/2000/svg", tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }
    function bytes(n) { if (n < 1024) return n + " B"; const u = ["KiB", "MiB", "GiB", "TiB"]; let v = n / 1024, i = 0; while (v >= 1024 && i < 3) { v /= 1024; i++; } return v.toFixed(1) + " " + u[i]; }
    function dur(s) { if (s == null || !isFinite(s)) return ""; if (s < 0.01) return +(s * 1000).toFixed(2) + " ms"; if (s < 1) return Math.round(s * 1000) + " ms"; if (s < 60) return s.toFixed(1) + " s";
      const w = Math.round(s); return w < 3600 ? Math.floor(w / 60) + " min " + (w % 60) + " s" : Math.floor(w / 3600) + " h " + Math.floor(w % 3600 / 60) + " min"; }
    function clock(epoch) { return new Date(epoch * 1000).toISOString().replace("T", " ").replace("Z", " UTC"); }
    function num(n) { return n.toLocaleString("en-US"); }
    function sevIndex(c) { return SEV.indexOf(c.diagnosis.severity); }
    const cssVar = (n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim();
    const byId = new Map(C.map((c, i) => [c.id, i]));
    // A connection still open (live modes) lasts until the page was written.
    const GEN = Date.parse(D.generated) / 1000;
    const endOf = (c) => c.closed != null ? c.closed : c.open ? Math.max(GEN, c.opened) : c.opened;
    const ends = C.map(endOf);
    const T0 = C.length ? Math.min(...C.map((c) => c.opened)) : 0;
    const T1 = C.length ? Math.max(T0 + 0.001, ...ends) : 1;
    for (const c of C) c.search = [c.id, c.client, c.server, c.path || "", c.code == null ? "" : c.code, c.codeName || "", c.diagnosis.category, c.diagnosis.id, c.diagnosis.severity, c.capture || ""].join(" ").toLowerCase();

    // --- overview -------------------------------------------------------------
    const state = { q: "", category: "", severity: "", sort: "id", dir: 1, view: [], selected: 0 };
    const columns = [["id", "#", "num"], ["category", "diagnosis"], ["code", "close"], ["client", "client"], ["server", "server"], ["path", "path"],
      ["rule", "rule"], ["duration", "duration", "num"], ["messages", "messages", "num"], ["bytes", "bytes", "num"]];
    const sortKey = { id: (c) => c.id, category: (c) => (9 - sevIndex(c)) + c.diagnosis.category, code: (c) => c.code == null ? 1e9 : c.code, client: (c) => c.client, server: (c) => c.server,
      path: (c) => c.path || "", rule: (c) => c.diagnosis.id, duration: (c) => endOf(c) - c.opened, messages: (c) => c.messages, bytes: (c) => c.bytes };

    function meta() {
      $("#meta").textContent = D.source + " · generated " + clock(Date.parse(D.generated) / 1000) + (C.length ? " · " + clock(T0) + " to " + clock(T1) : "");
      const sum = (f) => C.reduce((a, c) => a + c[f], 0);
      const totals = [["connections", num(C.length)], ["messages", num(sum("messages"))], ["frames", num(sum("frames"))], ["bytes", bytes(sum("bytes"))],
        ["violations", num(sum("violations"))], ["span", dur(T1 - T0)]];
      const open = C.filter((c) => c.open).length;
      if (open) totals.splice(1, 0, ["open", num(open)]);
      for (const [k, v] of totals) $("#totals").append(el("div", { "data-total": k }, el("dt", { text: k }), el("dd", { text: v })));
      const counts = new Map();
      for (const c of C) { const k = c.diagnosis.category; const e = counts.get(k) || { n: 0, sev: 0 }; e.n++; e.sev = Math.max(e.sev, sevIndex(c)); counts.set(k, e); }
      const cats = [...counts].sort((a, b) => b[1].sev - a[1].sev || b[1].n - a[1].n || a[0].localeCompare(b[0]));
      for (const [k, e] of cats) {
        const chip = el("button", { cls: "chip", "data-category": k, "data-count": e.n, "aria-pressed": "false" }, el("span", { cls: "dot sev-" + SEV[e.sev] }), k, el("span", { cls: "n", text: num(e.n) }));
        chip.onclick = () => { state.category = state.category === k ? "" : k; $("#category").value = state.category; apply(); };
        $("#categories").append(chip);
        $("#category").append(el("option", { value: k, text: k + " (" + e.n + ")" }));
      }
      for (const s of SEV) $("#severity").append(el("option", { value: s, text: s }));
      const head = document.querySelector("#table .head");
      for (const [key, label, cls] of columns) {
        const b = el("button", { text: label, "data-sort": key });
        b.onclick = () => { state.dir = state.sort === key ? -state.dir : 1; state.sort = key; apply(); };
        head.append(el("span", { cls: cls || "", role: "columnheader" }, b));
      }
    }

    function apply() {
      const q = state.q.trim().toLowerCase().split(/\s+/).filter(Boolean);
      const view = [];
      for (let i = 0; i < C.length; i++) {
        const c = C[i];
        if (state.category && c.diagnosis.category !== state.category) continue;
        if (state.severity && c.diagnosis.severity !== state.severity) continue;
        if (q.length && !q.every((w) => c.search.includes(w))) continue;
        view.push(i);
      }
      const f = sortKey[state.sort], d = state.dir;
      view.sort((a, b) => { const x = f(C[a]), y = f(C[b]); return (x < y ? -d : x > y ? d : 0) || C[a].id - C[b].id; });
      state.view = view;
      state.selected = Math.min(state.selected, Math.max(0, view.length - 1));
      $("#shown").textContent = num(view.length) + " of " + num(C.length) + " connections";
      $("#shown").dataset.count = view.length;
      for (const chip of document.querySelectorAll(".chip")) chip.setAttribute("aria-pressed", String(chip.dataset.category === state.category));
      for (const b of document.querySelectorAll(".head button")) { if (b.dataset.sort === state.sort) b.setAttribute("aria-sort", d > 0 ? "ascending" : "descending"); else b.removeAttribute("aria-sort"); }
      $("#rows-inner").style.height = view.length * ROW + "px";
      renderRows(true);
      drawChart();
    }

    let printing = false;
    function renderRows(force) {
      const box = $("#rows"), inner = $("#rows-inner");
      const first = printing ? 0 : Math.max(0, Math.floor(box.scrollTop / ROW) - 10);
      const last = printing ? Math.min(state.view.length, 5000) : Math.min(state.view.length, Math.ceil((box.scrollTop + box.clientHeight) / ROW) + 10);
      if (!force && inner.dataset.first == first && inner.dataset.last == last) return;
      inner.dataset.first = first; inner.dataset.last = last;
      const frag = document.createDocumentFragment();
      for (let r = first; r < last; r++) {
        const c = C[state.view[r]];
        const a = el("a", { cls: "row" + (r === state.selected ? " selected" : ""), href: "#c" + c.id, role: "row", "data-id": c.id, "data-category": c.diagnosis.category },
          el("span", { cls: "num", text: c.id }),
          el("span", {}, el("span", { cls: "dot sev-" + c.diagnosis.severity }), " " + c.diagnosis.category),
          el("span", { text: c.code != null ? String(c.code) : c.status != null && c.status !== 101 ? "HTTP " + c.status : "—", title: c.codeName || "" }),
          el("span", { cls: "mono", text: c.client }), el("span", { cls: "mono", text: c.server }), el("span", { cls: "mono", text: c.path || "—", title: c.path || "" }),
          el("span", { text: c.diagnosis.id, title: c.diagnosis.summary }),
          el("span", { cls: "num", text: dur(endOf(c) - c.opened) }), el("span", { cls: "num", text: num(c.messages) }), el("span", { cls: "num", text: bytes(c.bytes) }));
        a.style.top = r * ROW + "px";
        frag.append(a);
      }
      inner.replaceChildren(frag);
    }

    // Each connection a bar from open to close; many connections share a pixel row.
    let chartRows = 0;
    function drawChart() {
      const canvas = $("#chart"), view = state.view;
      const width = canvas.clientWidth || 1000, height = Math.max(40, Math.min(view.length * 8, 360));
      const ratio = window.devicePixelRatio || 1;
      canvas.width = width * ratio; canvas.height = height * ratio; canvas.style.height = height + "px";
      const g = canvas.getContext("2d"); g.scale(ratio, ratio); g.clearRect(0, 0, width, height);
      chartRows = view.length;
      const rowH = height / Math.max(1, view.length), bar = Math.max(1, Math.min(6, rowH - 2));
      const x = (t) => (t - T0) / (T1 - T0) * (width - 2) + 1;
      const colours = SEV.map((s) => cssVar("--" + s)), fg = cssVar("--fg");
      for (let r = 0; r < view.length; r++) {
        const c = C[view[r]], y = r * rowH + (rowH - bar) / 2;
        const x0 = x(c.opened), x1 = Math.max(x0 + 4, x(c.closed != null ? c.closed : c.open ? endOf(c) : T1));
        g.fillStyle = colours[sevIndex(c)]; g.globalAlpha = 0.85; g.fillRect(x0, y, x1 - x0, bar); g.globalAlpha = 1;
        // The close mark only where the bar is long enough to still show its colour.
        if (c.closeAt != null && x1 - x0 > 8) { g.fillStyle = fg; g.fillRect(Math.min(x(c.closeAt), width - 2), y - (rowH > 4 ? 1 : 0), 2, bar + (rowH > 4 ? 2 : 0)); }
      }
      const axis = $("#axis"); axis.replaceChildren();
      for (let i = 0; i <= 4; i++) { const t = T0 + (T1 - T0) * i / 4; const s = el("span", { text: i === 0 ? clock(t).slice(11, 23) : "+" + dur(t - T0) }); s.style.left = Math.min(96, Math.max(4, i * 25)) + "%"; axis.append(s); }
    }
    function chartHit(ev) {
      const canvas = $("#chart"), rect = canvas.getBoundingClientRect();
      const r = Math.floor((ev.clientY - rect.top) / rect.height * chartRows);
      return r >= 0 && r < chartRows ? C[state.view[r]] : null;
    }

    // --- one connection -------------------------------------------------------
    let current = null;
    function showDetail(c) {
      current = c;
      $("#overview").hidden = true;
      const d = $("#detail"); d.hidden = false; d.replaceChildren();
      const pos = state.view.indexOf(byId.get(c.id));
      if (pos >= 0) state.selected = pos;
      const prev = pos > 0 ? C[state.view[pos - 1]] : null, next = pos >= 0 && pos < state.view.length - 1 ? C[state.view[pos + 1]] : null;
      d.append(el("nav", {}, el("a", { href: "#", text: "← all connections" }), prev ? el("a", { href: "#c" + prev.id, text: "‹ previous (k)" }) : null,
        next ? el("a", { href: "#c" + next.id, text: "next (j) ›" }) : null, pos >= 0 ? el("span", { text: (pos + 1) + " of " + state.view.length }) : null));
      const dg = c.diagnosis;
      d.append(el("h2", {}, "Connection " + c.id + " ", el("span", { cls: "mono muted", text: c.client + " → " + c.server + (c.path ? " " + c.path : "") })));
      d.append(el("p", { cls: "muted" }, el("span", { cls: "badge" }, el("span", { cls: "dot sev-" + dg.severity }), dg.category + " · " + dg.severity),
        " opened " + clock(c.opened) + (c.closed != null ? " · lasted " + dur(c.closed - c.opened) : c.open ? " · still open, " + dur(endOf(c) - c.opened) + " so far" : " · still open") + (c.capture ? " · " + c.capture : "") + (c.incomplete ? " · capture incomplete" : "")));
      const ev = el("table", {}, el("tr", {}, el("th", { text: "evidence" }), el("th", { text: "value" })));
      for (const k in dg.evidence) ev.append(el("tr", {}, el("td", { cls: "mono", text: k }), el("td", { cls: "mono", text: JSON.stringify(dg.evidence[k]) })));
      d.append(c.open ? el("section", { id: "diagnosis", cls: "panel open" }, el("p", { cls: "summary", text: dg.summary }), el("p", { cls: "explanation", text: dg.explanation }))
        : el("section", { id: "diagnosis", cls: "panel" }, el("p", { cls: "summary", text: dg.summary }), el("p", { cls: "explanation", text: dg.explanation }),
        el("p", { cls: "fix" }, el("strong", { text: "Fix: " }), dg.fix),
        el("p", { cls: "muted" }, "rule ", el("code", { text: dg.id }), " at " + dg.rule_source + (dg.references.length ? " · " + dg.references.join(" · ") : ""))));
      d.append(el("h2", { text: "Timeline" }), timeline(c));
      d.append(el("section", { id: "evidence" }, el("h2", { text: "Evidence" }), c.open ? el("p", { cls: "muted", text: "None yet: nothing is diagnosed before the end." }) : ev));
      const seq = el("table", {}, el("tr", {}, el("th", { text: "time" }), el("th", { text: "side" }), el("th", { text: "event" })));
      for (const s of c.closeSequence) seq.append(el("tr", {}, el("td", { cls: "mono", text: "+" + dur(s.at - c.opened) }), el("td", { text: s.side }), el("td", { text: s.what })));
      const closeBox = el("section", { id: "close" }, el("h2", { text: "Close sequence" }), c.closeSequence.length ? seq : el("p", { cls: "muted", text: c.open ? "Still open: nothing has closed yet." : "No close frame and no TCP end was seen." }));
      const vt = el("table", {}, el("tr", {}, ...["side", "frame", "offset", "violation", "RFC", "detail"].map((h) => el("th", { text: h }))));
      for (const v of c.violationList) vt.append(el("tr", { cls: "violation" }, el("td", { text: v.side }), el("td", { cls: "mono", text: v.frame == null ? "—" : v.frame }),
        el("td", { cls: "mono", text: v.offset }), el("td", { cls: "bad", text: v.kind }), el("td", { text: v.rfc }), el("td", { text: v.detail })));
      for (const n of c.notices) vt.append(el("tr", {}, el("td", { text: n.side }), el("td", { text: "—" }), el("td", { cls: "mono", text: n.offset }), el("td", { text: n.kind }), el("td", { text: "" }), el("td", { text: n.detail })));
      const violBox = el("section", { id: "violations" }, el("h2", { text: "Violations" }), c.violationList.length + c.notices.length ? vt : el("p", { cls: "muted", text: "None: both sides kept to RFC 6455." }));
      d.append(el("div", { cls: "grid2" }, closeBox, violBox));
      d.append(handshake(c));
      d.append(el("h2", { text: "Frames" }), frameList(c));
      window.scrollTo(0, 0);
      document.body.dataset.view = "connection";
    }

    function handshake(c) {
      const h = c.handshake, box = el("section", { id: "handshake" }, el("h2", { text: "Handshake" }));
      if (!h) { box.append(el("p", { cls: "muted", text: "Not captured: the capture began after the connection opened, or it carried no HTTP upgrade." })); return box; }
      const req = [h.method + " " + h.target + " HTTP/1.1", ...h.request.map(([n, v]) => n + ": " + v)].join("\n");
      const res = h.status == null ? "(no answer)" : ["HTTP/1.1 " + h.status + " " + (h.reason || ""), ...(h.response || []).map(([n, v]) => n + ": " + v)].join("\n");
      const wait = h.answeredAt != null ? " · answered after " + dur(h.answeredAt - h.requestedAt) : "";
      box.append(el("div", { cls: "grid2" }, el("div", { cls: "panel" }, el("pre", { text: req })), el("div", { cls: "panel" }, el("pre", { text: res }))), el("p", { cls: "muted", text: "Credentials are redacted unless --show-secrets" + wait }));
      return box;
    }

    const OPS = { 0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong" };
    const opName = (o) => OPS[o] || "reserved-0x" + o.toString(16);
    function violationsByFrame(c) { const m = new Map(); for (const v of c.violationList) if (v.frame != null) m.set(v.side + ":" + v.frame, v.kind); return m; }

    // Both directions on one axis; zoom with the wheel or buttons, drag to pan.
    function timeline(c) {
      const f = c.frameList, n = f.length / 6, bad = violationsByFrame(c);
      const span = Math.max(1, n ? f[(n - 1) * 6] : 0, (endOf(c) - c.opened) * 1e6);
      const v = { t0: 0, t1: span * 1.02 };
      const wrap = el("div", { cls: "panel" });
      const tools = el("div", { cls: "tools" });
      const zoom = (k, at) => { const w = (v.t1 - v.t0) * k, m = at == null ? (v.t0 + v.t1) / 2 : at; const r = at == null ? 0.5 : (m - v.t0) / (v.t1 - v.t0);
        v.t0 = Math.max(0, m - w * r); v.t1 = Math.min(span * 1.02, v.t0 + w); if (v.t1 - v.t0 < 10) v.t1 = v.t0 + 10; draw(); };
      for (const [label, act] of [["+", () => zoom(0.5)], ["−", () => zoom(2)], ["fit", () => { v.t0 = 0; v.t1 = span * 1.02; draw(); }]]) { const b = el("button", { text: label }); b.onclick = act; tools.append(b); }
      tools.append(el("span", { cls: "legend", text: "● text  ■ binary  ○ continuation  ◆ ping  ◇ pong  ▮ close · size ∝ payload · red: violation" + (c.omittedFrames ? " · " + num(c.omittedFrames) + " frames in the middle not kept (bound " + num(D.frameBound) + ")" : "") }));
      const s = svg("svg", { id: "timeline", role: "img", "aria-label": "frames of both directions over time" });
      wrap.append(tools, s);
      const W = () => s.clientWidth || 1100, H = 170, L = 76, R = 12, Y = [52, 118];
      function draw() {
        const w = W(), pw = w - L - R, x = (t) => L + (t - v.t0) / (v.t1 - v.t0) * pw;
        s.setAttribute("viewBox", "0 0 " + w + " " + H); s.setAttribute("height", H); s.replaceChildren();
        s.dataset.t0 = Math.round(v.t0); s.dataset.t1 = Math.round(v.t1);
        s.append(svg("text", { x: 4, y: Y[0] + 4 }), svg("text", { x: 4, y: Y[1] + 4 }));
        s.childNodes[0].textContent = "client →"; s.childNodes[1].textContent = "← server";
        for (const y of Y) s.append(svg("line", { class: "lane", x1: L, x2: w - R, y1: y, y2: y }));
        const step = niceStep((v.t1 - v.t0) / 6);
        for (let t = Math.ceil(v.t0 / step) * step; t <= v.t1; t += step) { const tx = svg("text", { x: x(t), y: H - 4, "text-anchor": "middle" }); tx.textContent = "+" + dur(t / 1e6); s.append(tx); }
        let lo = 0; while (lo < n && f[lo * 6] < v.t0) lo++;
        let hi = lo; while (hi < n && f[hi * 6] <= v.t1) hi++;
        const g = svg("g", { class: "marks" });
        if (hi - lo > 1500) {
          // Too many to draw one by one: one bar per 3 px column and lane, height by count.
          const cols = Math.max(1, Math.floor(pw / 3)), cnt = [new Uint32Array(cols), new Uint32Array(cols)], hit = [new Uint8Array(cols), new Uint8Array(cols)];
          for (let i = lo; i < hi; i++) { const k = Math.min(cols - 1, Math.floor((f[i * 6] - v.t0) / (v.t1 - v.t0) * cols)), side = f[i * 6 + 1]; cnt[side][k]++;
            if (bad.has((side ? "server:" : "client:") + f[i * 6 + 5])) hit[side][k] = 1; }
          for (const side of [0, 1]) for (let k = 0; k < cols; k++) if (cnt[side][k]) { const h = Math.min(26, 3 + Math.log2(cnt[side][k]) * 3);
            g.append(svg("rect", { class: "agg" + (hit[side][k] ? " bad" : ""), x: L + k * pw / cols, y: Y[side] - h / 2, width: Math.max(1, pw / cols - 0.5), height: h, "data-count": cnt[side][k] })); }
          const note = svg("text", { x: L, y: 14 }); note.textContent = num(hi - lo) + " frames in view, drawn as bars by count: zoom in to see each frame"; s.append(note);
          s.dataset.mode = "downsampled";
        } else {
          for (let i = lo; i < hi; i++) g.append(mark(i, x(f[i * 6]), Y[f[i * 6 + 1]]));
          const p = c.pingPairs;
          for (let k = 0; k < p.length; k += 2) { const a = p[k], b = p[k + 1]; if (a >= lo && b < hi) g.prepend(svg("line", { class: "pair", x1: x(f[a * 6]), y1: Y[f[a * 6 + 1]], x2: x(f[b * 6]), y2: Y[f[b * 6 + 1]] })); }
          const idle = (t0, t1, suffix) => { const x0 = x(t0), x1 = x(Math.min(t1, v.t1));
            if (t1 - t0 > 1e6 && x1 - x0 > 70) { s.append(svg("line", { class: "idle", x1: x0 + 6, x2: x1 - 6, y1: 85, y2: 85 })); const t = svg("text", { x: (x0 + x1) / 2, y: 81, "text-anchor": "middle" }); t.textContent = "idle " + dur((t1 - t0) / 1e6) + suffix; s.append(t); } };
          for (let i = lo + 1; i < hi; i++) idle(f[(i - 1) * 6], f[i * 6], "");
          // After the last frame: silence until the end, or until now for one still open.
          if (n && hi === n) idle(f[(n - 1) * 6], (endOf(c) - c.opened) * 1e6, c.open ? " so far" : "");
          s.dataset.mode = "frames";
        }
        s.append(g);
        for (const gp of c.gaps) if (gp.at >= v.t0 && gp.at <= v.t1) { s.append(svg("line", { class: "gap", x1: x(gp.at), x2: x(gp.at), y1: 20, y2: 150 })); const t = svg("text", { x: x(gp.at) + 3, y: 28 }); t.textContent = "gap"; s.append(t); }
        for (const e of c.closeSequence) { const t = (e.at - c.opened) * 1e6; if (t < v.t0 || t > v.t1 || !/TCP|capture/.test(e.what)) continue;
          const y = e.side === "server" ? Y[1] : e.side === "client" ? Y[0] : 85; s.append(svg("line", { class: "end", x1: x(t), x2: x(t), y1: y - 14, y2: y + 14 }));
          const l = svg("text", { x: x(t) + 3, y: y - 16 }); l.textContent = e.what.replace("TCP ", ""); s.append(l); }
        s.dataset.marks = g.querySelectorAll(".mark").length;
      }
      function mark(i, mx, my) {
        const op = f[i * 6 + 2], size = f[i * 6 + 3], side = f[i * 6 + 1], r = 2.5 + Math.min(6, Math.log2(1 + size) / 2);
        const isBad = bad.has((side ? "server:" : "client:") + f[i * 6 + 5]), cls = "mark op-" + opName(op) + (isBad ? " bad" : "");
        let e;
        if (op === 1) e = svg("circle", { cx: mx, cy: my, r });
        else if (op === 2) e = svg("rect", { x: mx - r, y: my - r, width: 2 * r, height: 2 * r });
        else if (op === 0) e = svg("circle", { cx: mx, cy: my, r, class: "hollow" });
        else if (op === 9 || op === 10) e = svg("path", { d: `M${mx} ${my - 5}L${mx + 5} ${my}L${mx} ${my + 5}L${mx - 5} ${my}Z` });
        else if (op === 8) e = svg("rect", { x: mx - 2, y: my - 10, width: 4, height: 20 });
        else e = svg("path", { d: `M${mx} ${my - 6}L${mx + 6} ${my + 5}L${mx - 6} ${my + 5}Z` });
        e.setAttribute("class", cls + (op === 0 || op === 10 ? " hollow" : "") + (op === 8 ? " close" : ""));
        e.setAttribute("data-i", i);
        const t = svg("title", {}); t.textContent = (side ? "server" : "client") + " frame " + f[i * 6 + 5] + ": " + opName(op) + " " + bytes(size) + " at +" + dur(f[i * 6] / 1e6) + (isBad ? " — " + bad.get((side ? "server:" : "client:") + f[i * 6 + 5]) : "");
        e.append(t);
        return e;
      }
      let drag = null;
      s.addEventListener("wheel", (e) => { e.preventDefault(); const r = s.getBoundingClientRect(); const at = v.t0 + (e.clientX - r.left - L) / (r.width - L - R) * (v.t1 - v.t0); zoom(e.deltaY > 0 ? 1.25 : 0.8, at); }, { passive: false });
      s.addEventListener("mousedown", (e) => { drag = { x: e.clientX, t0: v.t0, t1: v.t1 }; });
      window.addEventListener("mouseup", () => { drag = null; });
      s.addEventListener("mousemove", (e) => { if (!drag) return; const r = s.getBoundingClientRect(); const dt = (e.clientX - drag.x) / (r.width - L - R) * (drag.t1 - drag.t0);
        const w = drag.t1 - drag.t0; v.t0 = Math.max(0, Math.min(span * 1.02 - w, drag.t0 - dt)); v.t1 = v.t0 + w; draw(); });
      wrap.redraw = draw; wrap.zoom = zoom;
      requestAnimationFrame(draw); draw();
      return wrap;
    }
    function niceStep(raw) { const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1)))); for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p; return 10 * p; }

    function frameList(c) {
      const f = c.frameList, n = f.length / 6, bad = violationsByFrame(c);
      const box = el("div", { id: "frames", role: "table", "data-count": n });
      const inner = el("div", {}); inner.style.height = (n + 1) * FROW + "px";
      const head = el("div", { cls: "frow head" }, ...["#", "time", "dir", "opcode", "payload", "FIN", "RSV", "masked", "violation"].map((h) => el("span", { text: h })));
      box.append(head, inner);
      function render() {
        const first = printing ? 0 : Math.max(0, Math.floor(box.scrollTop / FROW) - 10), last = printing ? Math.min(n, 5000) : Math.min(n, Math.ceil((box.scrollTop + (box.clientHeight || 300)) / FROW) + 10);
        const frag = document.createDocumentFragment();
        for (let i = first; i < last; i++) {
          const side = f[i * 6 + 1], flags = f[i * 6 + 4], key = (side ? "server:" : "client:") + f[i * 6 + 5];
          const r = el("div", { cls: "frow" }, el("span", { text: (side ? "s" : "c") + f[i * 6 + 5] }), el("span", { text: "+" + (f[i * 6] / 1000).toFixed(3) + " ms" }), el("span", { text: side ? "s→c" : "c→s" }),
            el("span", { text: opName(f[i * 6 + 2]) }), el("span", { text: bytes(f[i * 6 + 3]) }), el("span", { text: flags & 1 ? "1" : "0" }), el("span", { text: (flags >> 2).toString(2).padStart(3, "0") }),
            el("span", { text: flags & 2 ? "yes" : "no" }), el("span", { cls: "bad", text: bad.get(key) || "" }));
          r.style.top = (i + 1) * FROW + "px";
          frag.append(r);
        }
        inner.replaceChildren(frag);
      }
      box.addEventListener("scroll", render);
      box.render = render;
      requestAnimationFrame(render); render();
      return box;
    }

    // --- navigation -----------------------------------------------------------
    function route() {
      const m = /^#c(\d+)$/.exec(location.hash);
      if (m && byId.has(+m[1])) { showDetail(C[byId.get(+m[1])]); return; }
      current = null;
      $("#detail").hidden = true; $("#overview").hidden = false;
      document.body.dataset.view = "overview";
      renderRows(true); drawChart();
    }
    function move(delta) {
      if (!state.view.length) return;
      state.selected = Math.max(0, Math.min(state.view.length - 1, state.selected + delta));
      if (current) { location.hash = "#c" + C[state.view[state.selected]].id; return; }
      const box = $("#rows"), top = state.selected * ROW;
      if (top < box.scrollTop) box.scrollTop = top; else if (top + ROW > box.scrollTop + box.clientHeight) box.scrollTop = top + ROW - box.clientHeight;
      renderRows(true);
    }
    document.addEventListener("keydown", (e) => {
      if (e.target.matches("input, select")) { if (e.key === "Escape") e.target.blur(); return; }
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === "j" || e.key === "ArrowDown" || (current && e.key === "ArrowRight")) { move(1); e.preventDefault(); }
      else if (e.key === "k" || e.key === "ArrowUp" || (current && e.key === "ArrowLeft")) { move(-1); e.preventDefault(); }
      else if (e.key === "Enter" && !current && state.view.length) { location.hash = "#c" + C[state.view[state.selected]].id; }
      else if ((e.key === "Escape" || e.key === "u") && current) { location.hash = ""; }
      else if (e.key === "/" && !current) { $("#search").focus(); e.preventDefault(); }
    });
    $("#search").addEventListener("input", (e) => { state.q = e.target.value; apply(); });
    $("#category").addEventListener("change", (e) => { state.category = e.target.value; apply(); });
    $("#severity").addEventListener("change", (e) => { state.severity = e.target.value; apply(); });
    $("#rows").addEventListener("scroll", () => renderRows(false));
    const chart = $("#chart"), tip = $("#tip");
    chart.addEventListener("mousemove", (e) => { const c = chartHit(e); if (!c) { tip.hidden = true; return; }
      tip.hidden = false; tip.textContent = "#" + c.id + " " + c.client + " → " + c.server + " · " + c.diagnosis.category + " · " + c.diagnosis.summary;
      const r = $("#chart-wrap").getBoundingClientRect(); tip.style.left = Math.min(e.clientX - r.left + 12, r.width - 300) + "px"; tip.style.top = (e.clientY - r.top + 12) + "px"; });
    chart.addEventListener("mouseleave", () => { tip.hidden = true; });
    chart.addEventListener("click", (e) => { const c = chartHit(e); if (c) location.hash = "#c" + c.id; });
    window.addEventListener("hashchange", route);
    window.addEventListener("resize", () => { if (current) { const t = document.querySelector("#detail .panel:has(#timeline)"); if (t && t.redraw) t.redraw(); } else drawChart(); });
    window.addEventListener("beforeprint", () => { printing = true; renderRows(true); const fr = $("#frames"); if (fr) fr.render(); });
    window.addEventListener("afterprint", () => { printing = false; renderRows(true); const fr = $("#frames"); if (fr) fr.render(); });

    // A filter can come in the address: report.html#q=1008&category=policy&severity=error
    const start = new URLSearchParams(/^#c\d+$/.test(location.hash) ? "" : location.hash.slice(1));
    state.q = start.get("q") || ""; state.category = start.get("category") || ""; state.severity = start.get("severity") || "";
    meta();
    $("#search").value = state.q; $("#category").value = state.category; $("#severity").value = state.severity;
    apply();
    route();
    document.body.dataset.ready = "1";
    // Milliseconds from navigation until the page answers input (the benchmark reads it).
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.requests = String(performance.getEntriesByType("resource").length);
    """#
}
