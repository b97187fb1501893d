// The pypipegraph run report: draws the data embedded as JSON (#ppg-data).
// No network, no library: the timeline is a canvas, the graph an SVG of a neighbourhood.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("ppg-data").textContent);
  const J = D.jobs;
  const N = J.id.length;
  const COLOR = ["#3a9d5d", "#d64541", "#e8a33d"];
  const LIGHT = ["#d6f0de", "#f8d4d2", "#fbe6c4"];
  const CRIT = "#4b2a86";
  const SELECT = "#1a66d6";
  const stopOf = J.start.map((s, i) => s + J.dur[i]);
  const critical = new Set(D.critical);
  let selected = -1;

  function $(id) { return document.getElementById(id); }
  function esc(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function fmt(ms) {
    if (ms < 1000) return ms + " ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
    const m = Math.floor(s / 60), h = Math.floor(m / 60);
    if (h) return h + "h " + String(m % 60).padStart(2, "0") + "m";
    return m + "m " + String(Math.round(s % 60)).padStart(2, "0") + "s";
  }
  function pct(x) { return (100 * x).toFixed(1) + "%"; }

  // --- summary ---------------------------------------------------------------------
  const run = D.run;
  const counts = [0, 0, 0];
  J.outcome.forEach((o) => counts[o]++);
  const runColor = run.outcome === "ok" ? COLOR[0] : run.outcome === "failed" ? COLOR[1] : COLOR[2];
  $("summary").innerHTML =
    `<span class="badge" style="background:${runColor}">${esc(run.outcome)}</span> ` +
    `started ${esc(new Date(run.started * 1000).toLocaleString())}, wall time ${fmt(run.wall_ms)}; ` +
    `<b>${N}</b> job(s) ran: ${counts[0]} done, ${counts[1]} failed, ${counts[2]} killed` +
    (run.cores ? `; ${run.cores} core(s)` : "") + (run.cwd ? ` &middot; in <code>${esc(run.cwd)}</code>` : "");
  $("legend").innerHTML = D.outcomes.map((o, i) => `<span><i style="background:${COLOR[i]}"></i>${o}</span>`).join("") +
    `<span><i style="background:#fff;border:2px solid ${CRIT};width:9px;height:9px"></i>critical path</span>`;

  // --- timeline --------------------------------------------------------------------
  const canvas = $("timeline");
  const ctx = canvas.getContext("2d");
  const tooltip = $("tooltip");
  const LABEL_W = 170, AXIS_H = 22, LANE_H = 20;
  const lanes = D.lanes.map(() => []);
  for (let i = 0; i < N; i++) lanes[J.lane[i]].push(i);
  lanes.forEach((rows) => rows.sort((a, b) => J.start[a] - J.start[b]));
  const maxStop = stopOf.reduce((m, v) => (v > m ? v : m), Math.max(run.wall_ms, 1));
  let view = { t0: 0, t1: maxStop };
  canvas.dataset.bars = String(N);
  canvas.dataset.lanes = String(lanes.length);

  function width() { return canvas.clientWidth || 800; }
  function scale() { return (width() - LABEL_W - 8) / Math.max(view.t1 - view.t0, 1); }
  function xOf(t) { return LABEL_W + (t - view.t0) * scale(); }

  function drawTimeline() {
    const dpr = window.devicePixelRatio || 1;
    const w = width(), h = AXIS_H + lanes.length * LANE_H + 4;
    canvas.style.height = h + "px";
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    // axis
    const span = view.t1 - view.t0;
    const step = niceStep(span / 8);
    ctx.fillStyle = "#666";
    ctx.strokeStyle = "#eee";
    for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      const x = xOf(t);
      ctx.beginPath(); ctx.moveTo(x, AXIS_H - 4); ctx.lineTo(x, h); ctx.stroke();
      ctx.fillText(fmt(Math.round(t)), x + 2, AXIS_H / 2);
    }
    // lanes
    const drawn = [];
    lanes.forEach((rows, lane) => {
      const y = AXIS_H + lane * LANE_H;
      if (lane % 2) { ctx.fillStyle = "#fafafa"; ctx.fillRect(LABEL_W, y, w - LABEL_W, LANE_H); }
      ctx.save();
      ctx.beginPath(); ctx.rect(LABEL_W, y, w - LABEL_W, LANE_H); ctx.clip();
      let lastX = -1, lastColor = -1;
      for (const i of rows) {
        const x0 = xOf(J.start[i]);
        if (x0 > w) break;
        const x1 = xOf(stopOf[i]);
        if (x1 < LABEL_W) continue;
        const marked = critical.has(i) || i === selected;
        const bw = Math.max(x1 - x0, J.outcome[i] || marked ? 3 : 1); // failures stay visible
        if (marked) drawn.push([i, x0, bw, y]);
        // many sub-pixel bars in a row: paint each pixel column once per colour
        if (bw <= 1 && Math.floor(x0) === lastX && J.outcome[i] === lastColor) continue;
        lastX = Math.floor(x0); lastColor = J.outcome[i];
        ctx.fillStyle = COLOR[J.outcome[i]];
        ctx.fillRect(x0, y + 3, bw, LANE_H - 6);
        if (bw > 3) { ctx.fillStyle = "rgba(255,255,255,.35)"; ctx.fillRect(x1 - 1, y + 3, 1, LANE_H - 6); }
      }
      ctx.restore();
      ctx.fillStyle = "#333";
      ctx.fillText(D.lanes[lane], 4, y + LANE_H / 2, LABEL_W - 8);
    });
    // critical path: outlines and the waits between its jobs
    if ($("show-critical").checked && D.critical.length) {
      ctx.strokeStyle = CRIT;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      D.critical.forEach((i, k) => {
        const x = xOf(J.start[i]), y = AXIS_H + J.lane[i] * LANE_H + LANE_H / 2;
        if (k) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        ctx.moveTo(xOf(stopOf[i]), y);
      });
      ctx.stroke();
      for (const [i, x0, bw, y] of drawn) {
        if (critical.has(i)) { ctx.lineWidth = 2; ctx.strokeRect(x0 - 1, y + 2, bw + 2, LANE_H - 4); }
      }
    }
    for (const [i, x0, bw, y] of drawn) {
      if (i === selected) { ctx.strokeStyle = SELECT; ctx.lineWidth = 3; ctx.strokeRect(x0 - 2, y + 1, bw + 4, LANE_H - 2); }
    }
    ctx.lineWidth = 1;
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1))));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  function barAt(px, py) {
    const lane = Math.floor((py - AXIS_H) / LANE_H);
    if (lane < 0 || lane >= lanes.length || px < LABEL_W) return -1;
    const rows = lanes[lane];
    const t = view.t0 + (px - LABEL_W) / scale();
    const tol = 2 / scale();
    let lo = 0, hi = rows.length - 1, found = -1;
    while (lo <= hi) { // last bar starting at or before t + tol
      const mid = (lo + hi) >> 1;
      if (J.start[rows[mid]] <= t + tol) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    for (let k = found; k >= 0 && k > found - 50; k--) {
      if (stopOf[rows[k]] >= t - tol) return rows[k];
    }
    return -1;
  }

  function describe(i) {
    return `<b>${esc(J.id[i])}</b><br>${D.outcomes[J.outcome[i]]} &middot; runtime ${fmt(J.dur[i])} &middot; ` +
      `started at +${fmt(J.start[i])} &middot; ${J.cores[i]} core(s) &middot; ${esc(D.lanes[J.lane[i]])}` +
      (critical.has(i) ? " &middot; <i>on the critical path</i>" : "") +
      `<br>why it ran: ${esc(D.reasons[J.reason[i]] || "?")}`;
  }

  let drag = null;
  canvas.addEventListener("mousemove", (ev) => {
    const r = canvas.getBoundingClientRect();
    const px = ev.clientX - r.left, py = ev.clientY - r.top;
    if (drag) {
      const dt = (drag.x - px) / scale();
      view = { t0: drag.t0 + dt, t1: drag.t1 + dt };
      drag.moved = true;
      drawTimeline();
      return;
    }
    const i = barAt(px, py);
    if (i < 0) { tooltip.hidden = true; return; }
    tooltip.innerHTML = describe(i);
    tooltip.hidden = false;
    tooltip.style.left = Math.min(px + 12, width() - 300) + "px";
    tooltip.style.top = (py + 14) + "px";
  });
  canvas.addEventListener("mouseleave", () => { tooltip.hidden = true; drag = null; });
  canvas.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX - canvas.getBoundingClientRect().left, t0: view.t0, t1: view.t1 }; });
  canvas.addEventListener("mouseup", (ev) => {
    const moved = drag && drag.moved;
    drag = null;
    if (moved) return;
    const r = canvas.getBoundingClientRect();
    const i = barAt(ev.clientX - r.left, ev.clientY - r.top);
    if (i >= 0) select(i, true);
  });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = canvas.getBoundingClientRect();
    const t = view.t0 + (ev.clientX - r.left - LABEL_W) / scale();
    const f = ev.deltaY < 0 ? 0.8 : 1.25;
    const t0 = t - (t - view.t0) * f, t1 = t + (view.t1 - t) * f;
    if (t1 - t0 < 1) return;
    view = { t0: Math.max(t0, -maxStop * 0.05), t1: Math.min(t1, maxStop * 1.05) };
    drawTimeline();
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { view = { t0: 0, t1: maxStop }; drawTimeline(); });
  $("show-critical").addEventListener("change", drawTimeline);
  window.addEventListener("resize", drawTimeline);

  // --- time shares and critical path list ------------------------------------------
  const S = D.shares;
  const busyShare = S.jobs_running_s / S.wall_s;
  $("shares").innerHTML =
    `<div>Of the wall time (${fmt(Math.round(S.wall_s * 1000))}), at least one job ran <b>${pct(busyShare)}</b>; ` +
    `the master worked alone (deciding, hashing, starting workers, nothing running) <b>${pct(1 - busyShare)}</b>.</div>` +
    `<div class="sharebar" title="jobs running / master alone"><div style="width:${100 * busyShare}%;background:${COLOR[0]}"></div>` +
    `<div style="width:${100 * (1 - busyShare)}%;background:#bbb"></div></div>` +
    (S.utilisation !== null
      ? `<div>Cores busy on average: <b>${pct(S.utilisation)}</b> of ${run.cores} (mean parallelism ${S.mean_parallel.toFixed(2)}); ` +
        `idle core time ${pct(1 - S.utilisation)}.</div>`
      : `<div>Mean parallelism ${S.mean_parallel.toFixed(2)}.</div>`);
  if (D.critical.length) {
    const crit = D.critical;
    let busy = 0;
    crit.forEach((i) => { busy += J.dur[i]; });
    $("critical-summary").textContent = `Critical path: ${crit.length} job(s), ${fmt(busy)} of running ` +
      `(${pct(busy / Math.max(maxStop, 1))} of the wall time), ends with ${J.id[crit[crit.length - 1]]}`;
    const items = [];
    crit.forEach((i, k) => {
      const gap = k ? J.start[i] - stopOf[crit[k - 1]] : J.start[i];
      items.push(`<li><span class="gap">${k ? "waited" : "started at"} +${fmt(Math.max(gap, 0))}, then</span> ` +
        `<a href="#" data-row="${i}">${esc(J.id[i])}</a> ran ${fmt(J.dur[i])}</li>`);
    });
    $("critical-list").innerHTML = items.join("");
    $("critical-list").addEventListener("click", (ev) => {
      const row = ev.target.dataset && ev.target.dataset.row;
      if (row !== undefined) { ev.preventDefault(); select(+row, true); }
    });
  } else {
    $("critical-summary").textContent = D.graph ? "Critical path: no job ran" :
      "Critical path: unknown (the store kept no job graph for this run)";
  }

  // --- failures ----------------------------------------------------------------------
  if (D.failures.length) {
    $("failures-section").hidden = false;
    const failed = counts[1] + counts[2];
    $("failures").innerHTML = (failed > D.failures.length ? `<p>The first ${D.failures.length} of ${failed} shown.</p>` : "") +
      D.failures.map((f, k) => {
        const i = f.row;
        return `<details class="failure" id="failure-${i}"${k < 3 ? " open" : ""}><summary><h3>${esc(J.id[i])}</h3></summary>` +
          `<div><span class="out-${D.outcomes[J.outcome[i]]}">${D.outcomes[J.outcome[i]]}</span> after ${fmt(J.dur[i])}; ` +
          `ran because: ${esc(D.reasons[J.reason[i]])}</div>` +
          (f.traceback ? `<div>Traceback:</div><pre class="traceback">${esc(f.traceback)}</pre>` : "") +
          (f.stderr ? `<div>Last lines of stderr:</div><pre class="stderr">${esc(f.stderr)}</pre>` : "") +
          (f.stdout ? `<div>Last lines of stdout:</div><pre class="stdout">${esc(f.stdout)}</pre>` : "") +
          (f.log_kept ? "" : "<div><i>The store kept no output of this job from this run (a later run replaced it).</i></div>") +
          "</details>";
      }).join("");
  }

  // --- the jobs table ------------------------------------------------------------------
  const PAGE = 300;
  let sortKey = "start", sortDir = 1, limit = PAGE, matching = [];
  const keyOf = {
    id: (i) => J.id[i], outcome: (i) => J.outcome[i], dur: (i) => J.dur[i], start: (i) => J.start[i],
    cores: (i) => J.cores[i], lane: (i) => J.lane[i], reason: (i) => D.reasons[J.reason[i]],
  };
  const haystack = J.id.map((id, i) => (id + "\u0000" + D.outcomes[J.outcome[i]] + "\u0000" + D.reasons[J.reason[i]]).toLowerCase());

  function refreshTable() {
    const needle = $("filter").value.trim().toLowerCase();
    matching = [];
    for (let i = 0; i < N; i++) if (!needle || haystack[i].includes(needle)) matching.push(i);
    const key = keyOf[sortKey];
    matching.sort((a, b) => {
      const ka = key(a), kb = key(b);
      return (ka < kb ? -1 : ka > kb ? 1 : a - b) * sortDir;
    });
    renderRows();
  }

  function renderRows() {
    const shown = matching.slice(0, limit);
    document.querySelector("#jobs tbody").innerHTML = shown.map((i) =>
      `<tr data-row="${i}"${i === selected ? ' class="selected"' : ""}><td class="id">${esc(J.id[i])}</td>` +
      `<td class="out-${D.outcomes[J.outcome[i]]}">${D.outcomes[J.outcome[i]]}</td>` +
      `<td class="num" data-ms="${J.dur[i]}">${fmt(J.dur[i])}</td><td class="num">+${fmt(J.start[i])}</td>` +
      `<td class="num">${J.cores[i]}</td><td>${esc(D.lanes[J.lane[i]].split(" (")[0])}</td>` +
      `<td>${esc(D.reasons[J.reason[i]])}</td></tr>`).join("");
    $("job-count").textContent = `${matching.length} of ${N} job(s) match` +
      (matching.length > shown.length ? `, first ${shown.length} shown` : "");
    $("job-count").dataset.matching = String(matching.length);
    $("more").hidden = matching.length <= shown.length;
    document.querySelectorAll("#jobs th").forEach((th) => {
      th.className = (th.classList.contains("num") ? "num " : "") +
        (th.dataset.key === sortKey ? (sortDir > 0 ? "sorted-asc" : "sorted-desc") : "");
    });
  }

  let filterTimer = null;
  $("filter").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { limit = PAGE; refreshTable(); }, N > 5000 ? 150 : 30);
  });
  document.querySelectorAll("#jobs th").forEach((th) => th.addEventListener("click", () => {
    const key = th.dataset.key;
    if (key === sortKey) sortDir = -sortDir; else { sortKey = key; sortDir = key === "dur" || key === "cores" ? -1 : 1; }
    refreshTable();
  }));
  $("more").addEventListener("click", () => { limit += 1000; renderRows(); });
  document.querySelector("#jobs tbody").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr) select(+tr.dataset.row, false);
  });

  // --- selection ---------------------------------------------------------------------
  function select(i, fromTimeline) {
    selected = i;
    drawTimeline();
    document.querySelectorAll("#jobs tr.selected").forEach((tr) => tr.classList.remove("selected"));
    const tr = document.querySelector(`#jobs tr[data-row="${i}"]`);
    if (tr) { tr.classList.add("selected"); if (fromTimeline) tr.scrollIntoView({ block: "nearest" }); }
    if (G && G.nodeOf.has(J.id[i])) { $("graph-job").value = J.id[i]; drawGraph(G.nodeOf.get(J.id[i])); }
  }

  // --- the job graph -------------------------------------------------------------------
  const MAX_NODES = 250;
  const G = D.graph ? buildGraph(D.graph) : null;
  let center = -1;

  function buildGraph(g) {
    const n = g.ids.length;
    const ups = Array.from({ length: n }, () => []), downs = Array.from({ length: n }, () => []);
    for (let k = 0; k < g.edges.length; k += 2) { ups[g.edges[k + 1]].push(g.edges[k]); downs[g.edges[k]].push(g.edges[k + 1]); }
    const nodeOf = new Map(g.ids.map((id, i) => [id, i]));
    const rowOf = new Map();
    J.id.forEach((id, i) => { if (nodeOf.has(id)) rowOf.set(nodeOf.get(id), i); });
    const invariant = g.types.map((t) => /Invariant$/.test(g.type_names[t]));
    return { ids: g.ids, types: g.types, names: g.type_names, ups, downs, nodeOf, rowOf, invariant };
  }

  function visibleNodes(start, depth) {
    const showInv = $("show-invariants").checked;
    const ok = (v) => showInv || !G.invariant[v] || v === start;
    if (start < 0) return G.ids.map((_, i) => i).filter(ok);
    const seen = new Set([start]);
    for (const dir of [G.ups, G.downs]) {
      let frontier = [start];
      for (let d = 0; d < depth && frontier.length && seen.size < MAX_NODES; d++) {
        const next = [];
        for (const v of frontier) for (const w of dir[v]) {
          if (!seen.has(w) && ok(w) && seen.size < MAX_NODES) { seen.add(w); next.push(w); }
        }
        frontier = next;
      }
    }
    return Array.from(seen);
  }

  function layout(nodes) {
    const inSet = new Set(nodes);
    const layer = new Map(), indeg = new Map();
    nodes.forEach((v) => indeg.set(v, G.ups[v].filter((u) => inSet.has(u)).length));
    let queue = nodes.filter((v) => !indeg.get(v));
    queue.forEach((v) => layer.set(v, 0));
    while (queue.length) {
      const next = [];
      for (const v of queue) for (const w of G.downs[v]) {
        if (!inSet.has(w)) continue;
        layer.set(w, Math.max(layer.get(w) || 0, layer.get(v) + 1));
        indeg.set(w, indeg.get(w) - 1);
        if (!indeg.get(w)) next.push(w);
      }
      queue = next;
    }
    const columns = [];
    nodes.forEach((v) => { const l = layer.get(v) || 0; (columns[l] = columns[l] || []).push(v); });
    const pos = new Map();
    columns.forEach((col) => col.forEach((v, k) => pos.set(v, k)));
    for (let pass = 0; pass < 4; pass++) { // barycentre ordering, down then up
      const cols = pass % 2 ? columns.slice().reverse() : columns;
      cols.forEach((col) => {
        const bary = new Map(col.map((v) => {
          const nb = (pass % 2 ? G.downs[v] : G.ups[v]).filter((u) => inSet.has(u));
          return [v, nb.length ? nb.reduce((s, u) => s + pos.get(u), 0) / nb.length : pos.get(v)];
        }));
        col.sort((a, b) => bary.get(a) - bary.get(b));
        col.forEach((v, k) => pos.set(v, k));
      });
    }
    return { columns, pos, inSet };
  }

  function drawGraph(start) {
    if (!G) {
      $("graph-note").textContent = "The store kept no job graph for this run (it is kept for the last 10 runs, by pypipegraph versions that write reports).";
      return;
    }
    center = start;
    const depth = +$("graph-depth").value;
    let nodes = visibleNodes(start, depth);
    let note = "";
    if (start < 0 && nodes.length > MAX_NODES) {
      note = `The graph has ${nodes.length} jobs: too many to draw at once. Showing the jobs around one job; pick another in the table, the timeline or by id.`;
      start = defaultCenter();
      center = start;
      nodes = visibleNodes(start, depth);
    }
    const ran = nodes.filter((v) => G.rowOf.has(v)).length;
    $("graph-note").textContent = (note ? note + " " : "") +
      (start >= 0 ? `Around ${G.ids[start]} (depth ${depth}): ` : "Whole graph: ") +
      `${nodes.length} of ${G.ids.length} job(s) shown, ${ran} of them ran (coloured by outcome; grey: up to date or not needed).` +
      (nodes.length >= MAX_NODES && start >= 0 ? ` Capped at ${MAX_NODES} jobs.` : "");
    const { columns, pos, inSet } = layout(nodes);
    const NW = 200, NH = 22, CW = 250, RH = 30, PAD = 10;
    const rows = Math.max(...columns.map((c) => (c ? c.length : 0)), 1);
    const wpx = PAD * 2 + columns.length * CW, hpx = PAD * 2 + rows * RH;
    const xy = (v) => {
      const col = columns.findIndex((c) => c && c.includes(v));
      const offset = (rows - columns[col].length) * RH / 2;
      return [PAD + col * CW, PAD + offset + pos.get(v) * RH];
    };
    const at = new Map(nodes.map((v) => [v, xy(v)]));
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${wpx}" height="${hpx}" data-nodes="${nodes.length}">`];
    parts.push('<g fill="none" stroke="#999" stroke-width="1">');
    for (const v of nodes) for (const u of G.ups[v]) {
      if (!inSet.has(u)) continue;
      const [x1, y1] = at.get(u), [x2, y2] = at.get(v);
      const a = x1 + NW, b = y1 + NH / 2, c = x2, d = y2 + NH / 2, m = (a + c) / 2;
      parts.push(`<path d="M${a},${b} C${m},${b} ${m},${d} ${c},${d}"/>`);
    }
    parts.push("</g>");
    for (const v of nodes) {
      const [x, y] = at.get(v);
      const row = G.rowOf.has(v) ? G.rowOf.get(v) : -1;
      const fill = row >= 0 ? LIGHT[J.outcome[row]] : "#f2f2f2";
      const stroke = v === start ? SELECT : row >= 0 && critical.has(row) ? CRIT : row >= 0 ? COLOR[J.outcome[row]] : "#bbb";
      const sw = v === start || (row >= 0 && critical.has(row)) ? 3 : row >= 0 ? 2 : 1;
      const label = G.ids[v].length > 29 ? "\u2026" + G.ids[v].slice(-28) : G.ids[v];
      const title = `${G.ids[v]} (${G.names[G.types[v]]})` + (row >= 0 ? `: ${D.outcomes[J.outcome[row]]}, ${fmt(J.dur[row])}, ${D.reasons[J.reason[row]]}` : ": did not run");
      parts.push(`<g class="node${row >= 0 ? " ran" : ""}" data-node="${v}"><title>${esc(title)}</title>` +
        `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="4" fill="${fill}" stroke="${stroke}" stroke-width="${sw}"/>` +
        `<text x="${x + 6}" y="${y + 15}" fill="${row >= 0 ? "#111" : "#777"}">${esc(label)}</text></g>`);
    }
    parts.push("</svg>");
    $("graph").innerHTML = parts.join("");
  }

  function defaultCenter() {
    const pick = D.failures.length ? D.failures[0].row : D.critical.length ? D.critical[D.critical.length - 1] : N ? 0 : -1;
    if (pick >= 0 && G.nodeOf.has(J.id[pick])) return G.nodeOf.get(J.id[pick]);
    return G.ids.findIndex((_, v) => !G.invariant[v]);
  }

  if (G) {
    $("graph").addEventListener("click", (ev) => {
      const g = ev.target.closest("g.node");
      if (!g) return;
      const v = +g.dataset.node;
      $("graph-job").value = G.ids[v];
      if (G.rowOf.has(v)) select(G.rowOf.get(v), true); else drawGraph(v);
    });
    $("graph-job").addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter") return;
      const v = G.nodeOf.get($("graph-job").value.trim());
      $("graph-note").textContent = "";
      if (v === undefined) { $("graph-note").textContent = `No job ${$("graph-job").value} in this run's graph.`; return; }
      drawGraph(v);
    });
    $("graph-depth").addEventListener("change", () => drawGraph(center));
    $("show-invariants").addEventListener("change", () => drawGraph(center));
    $("graph-all").addEventListener("click", () => { $("graph-job").value = ""; drawGraph(-1); });
  }

  drawTimeline();
  refreshTable();
  drawGraph(-1);
  // for tests and the curious: counts, and where a job's bar is drawn (canvas pixels)
  window.ppgReport = {
    bars: N, lanes: lanes.length, critical: D.critical.map((i) => J.id[i]), matching: () => matching.length,
    barCenter: (id) => {
      const i = J.id.indexOf(id);
      return i < 0 ? null : { x: (xOf(J.start[i]) + Math.max(xOf(stopOf[i]), xOf(J.start[i]) + 1)) / 2, y: AXIS_H + J.lane[i] * LANE_H + LANE_H / 2 };
    },
  };
})();
