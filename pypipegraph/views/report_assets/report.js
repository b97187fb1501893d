// The pypipegraph run report: draws the data embedded as JSON (#ppg-data).
// No network, no library: timeline and resource plots are canvases, graphs SVG. Sized for
// 50 000 jobs: per-job work is a few array passes; the DOM holds pages of rows, not all jobs.
(function () {
  "use strict";
  const T0 = performance.now(), timings = {};  // ms spent per step, for the curious (ppgReport.timings)
  function mark(step) { timings[step] = Math.round(performance.now() - T0); }
  const D = JSON.parse(document.getElementById("ppg-data").textContent);
  const J = D.jobs;
  const N = J.id.length;
  const COLOR = ["#3a9d5d", "#d64541", "#e8a33d"];
  const LIGHT = ["#d6f0de", "#f8d4d2", "#fbe6c4"];
  const CRIT = "#4b2a86";
  const SELECT = "#1a66d6";
  const stopOf = J.start.map((s, i) => s + J.dur[i]);
  const critical = new Set(D.critical);
  const R = D.rules;
  const RSS = J.rss || null, CPU = J.cpu || null;
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

  mark("before summary");
  // --- summary ---------------------------------------------------------------------
  const run = D.run;
  const counts = [0, 0, 0];
  J.outcome.forEach((o) => counts[o]++);
  const runColor = run.outcome === "ok" ? COLOR[0] : run.outcome === "failed" ? COLOR[1] : COLOR[2];
  const count = (name, n, color) => `<span class="count" id="count-${name}"${n && color ? ` style="color:${color};font-weight:600"` : ""}>` +
    `<b>${n.toLocaleString("en-US")}</b> ${name}</span>`;
  const graphJobs = D.graph ? D.graph.types.filter((t) => !/Invariant$/.test(D.graph.type_names[t])).length : 0;
  $("summary").innerHTML =
    `<span class="badge" style="background:${runColor}">${esc(run.outcome)}</span> ` +
    `started ${esc(new Date(run.started * 1000).toLocaleString())}, wall time ${fmt(run.wall_ms)}` +
    (run.cores ? `, ${run.cores} core(s)` : "") + (run.cwd ? ` &middot; in <code>${esc(run.cwd)}</code>` : "") + "<br>" +
    count("done", counts[0]) + count("failed", counts[1], COLOR[1]) + count("blocked", D.blocked.length, "#8a6d3b") +
    count("killed", counts[2], COLOR[2]) +
    (D.graph ? `<span class="count">of ${graphJobs.toLocaleString("en-US")} job(s) in the graph (invariants not counted); the rest were up to date or not needed</span>` : "");

  mark("before rules");
  // --- rules -------------------------------------------------------------------------
  // per rule: jobs ran, outcomes, runtimes, peak memory; colours go to the rules with most runtime
  const nr = R.length;
  const ruleStat = R.map((name, r) => ({ r, name, ran: 0, outcome: [0, 0, 0], blocked: 0, graph: 0, total: 0, max: 0, rss: null, cpu: 0 }));
  for (let i = 0; i < N; i++) {
    const s = ruleStat[J.rule[i]];
    s.ran++; s.outcome[J.outcome[i]]++; s.total += J.dur[i]; if (J.dur[i] > s.max) s.max = J.dur[i];
    if (RSS && RSS[i] !== null && (s.rss === null || RSS[i] > s.rss)) s.rss = RSS[i];
    if (CPU && CPU[i] !== null) s.cpu += CPU[i];
  }
  if (D.graph) {
    D.graph.rules.forEach((r) => { ruleStat[r].graph++; });
    D.blocked.forEach((v) => { ruleStat[D.graph.rules[v]].blocked++; });
  }
  const PALETTE = ["#4e79a7", "#59a14f", "#9c755f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#86bcb6",
    "#a0cbe8", "#8cd17d", "#b6992d", "#499894", "#d4a6c8", "#79706e"];
  const ranked = ruleStat.filter((s) => s.ran).sort((a, b) => b.total - a.total || b.ran - a.ran);
  const ruleColor = new Array(nr).fill("#9a9a9a");
  ranked.forEach((s, k) => { if (k < PALETTE.length) ruleColor[s.r] = PALETTE[k]; });
  function bytes(n) {
    if (n === null || n === undefined) return "";
    const u = ["B", "KB", "MB", "GB", "TB"]; let k = 0;
    while (n >= 1024 && k < u.length - 1) { n /= 1024; k++; }
    return (k ? n.toFixed(n < 10 ? 1 : 0) : n) + " " + u[k];
  }
  const shownRules = ruleStat.filter((s) => s.ran || s.blocked || (s.graph && !/Invariant$/.test(s.name)))
    .sort((a, b) => b.total - a.total || b.ran - a.ran || (a.name < b.name ? -1 : 1));
  $("rules").querySelector("thead").innerHTML = "<tr><th>rule</th><th class=num>ran</th><th class=num>failed</th>" +
    (counts[2] ? "<th class=num>killed</th>" : "") + "<th class=num>blocked</th>" +
    (D.graph ? "<th class=num>in graph</th>" : "") +
    "<th class=num>total runtime</th><th class=num>mean</th><th class=num>max</th>" +
    (RSS ? "<th class=num>peak RSS</th>" : "") + (CPU ? "<th class=num>CPU / wall</th>" : "") + "</tr>";
  $("rules").querySelector("tbody").innerHTML = shownRules.map((s) => `<tr data-rule="${s.r}"><td><i class="swatch" style="background:${ruleColor[s.r]}"></i>${esc(s.name)}</td>` +
    `<td class="num">${s.ran}</td><td class="num${s.outcome[1] ? " out-failed" : ""}">${s.outcome[1]}</td>` +
    (counts[2] ? `<td class="num${s.outcome[2] ? " out-killed" : ""}">${s.outcome[2]}</td>` : "") +
    `<td class="num">${s.blocked}</td>` + (D.graph ? `<td class="num">${s.graph}</td>` : "") +
    `<td class="num">${s.ran ? fmt(s.total) : ""}</td><td class="num">${s.ran ? fmt(Math.round(s.total / s.ran)) : ""}</td>` +
    `<td class="num">${s.ran ? fmt(s.max) : ""}</td>` + (RSS ? `<td class="num">${bytes(s.rss)}</td>` : "") +
    (CPU ? `<td class="num">${s.total ? pct(1000 * s.cpu / s.total) : ""}</td>` : "") + "</tr>").join("");
  $("rules").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-rule]");
    if (tr) showRule(+tr.dataset.rule);
  });

  function drawLegend() {
    const byRule = $("colour-by").value === "rule";
    const items = byRule
      ? ranked.slice(0, PALETTE.length).map((s) => `<span><i style="background:${ruleColor[s.r]}"></i>${esc(s.name)}</span>`)
        .concat(ranked.length > PALETTE.length ? [`<span><i style="background:#9a9a9a"></i>other rules</span>`] : [])
        .concat([1, 2].map((o) => `<span><i style="background:${COLOR[o]}"></i>${D.outcomes[o]}</span>`))
      : D.outcomes.map((o, i) => `<span><i style="background:${COLOR[i]}"></i>${o}</span>`);
    $("legend").innerHTML = items.join("") +
      `<span><i style="background:#fff;border:2px solid ${CRIT};width:9px;height:9px"></i>critical path</span>`;
  }
  let byRule = true;
  function barColor(i) {
    return J.outcome[i] || !byRule ? COLOR[J.outcome[i]] : ruleColor[J.rule[i]];
  }

  mark("before timeline");
  // --- timeline --------------------------------------------------------------------
  const canvas = $("timeline");
  const ctx = canvas.getContext("2d");
  const tooltip = $("tooltip");
  const LABEL_W = 170, AXIS_H = 22, LANE_H = 20, CHAR_W = 6.3;
  const lanes = D.lanes.map(() => []);
  for (let i = 0; i < N; i++) lanes[J.lane[i]].push(i);
  lanes.forEach((rows) => rows.sort((a, b) => J.start[a] - J.start[b]));
  const maxStop = stopOf.reduce((m, v) => (v > m ? v : m), Math.max(run.wall_ms, 1));
  let view = { t0: 0, t1: maxStop };
  canvas.dataset.bars = String(N);
  canvas.dataset.lanes = String(lanes.length);

  function width() { return canvas.clientWidth || 800; }
  function scale() { return (width() - LABEL_W - 8) / Math.max(view.t1 - view.t0, 1); }
  let pxPerMs = 1; // scale() as of the last drawing: reading the layout per bar would cost
  function xOf(t) { return LABEL_W + (t - view.t0) * pxPerMs; }

  function drawTimeline() {
    const dpr = window.devicePixelRatio || 1;
    const w = width(), h = AXIS_H + lanes.length * LANE_H + 4;
    pxPerMs = scale();
    canvas.style.height = h + "px";
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    let names = 0;
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
      let lastX = -1, lastColor = "";
      const onTop = []; // failed and killed bars, drawn after the others so none covers them
      for (const i of rows) {
        const x0 = xOf(J.start[i]);
        if (x0 > w) break;
        const x1 = xOf(stopOf[i]);
        if (x1 < LABEL_W) continue;
        const marked = critical.has(i) || i === selected;
        const bw = Math.max(x1 - x0, J.outcome[i] || marked ? 3 : 1); // failures stay visible
        if (marked) drawn.push([i, x0, bw, y]);
        // many sub-pixel bars in a row: paint each pixel column once (the first bar's colour)
        if (bw <= 1 && Math.floor(x0) === lastX) continue;
        lastX = Math.floor(x0);
        if (J.outcome[i] && bw <= 3) { onTop.push([i, x0, bw]); continue; }
        const color = barColor(i);
        if (color !== lastColor) { ctx.fillStyle = color; lastColor = color; } // setting a colour costs
        ctx.fillRect(x0, y + 3, bw, LANE_H - 6);
        if (bw > 3) { ctx.fillStyle = "rgba(255,255,255,.35)"; ctx.fillRect(x1 - 1, y + 3, 1, LANE_H - 6); lastColor = ""; }
        if (bw >= 36) { // the job's name where the bar can hold it (its end, which tells jobs apart)
          const left = Math.max(x0, LABEL_W) + 3, room = Math.min(x1, w) - left - 3;
          const fit = Math.floor(room / CHAR_W);
          if (fit >= 4) {
            const id = J.id[i];
            ctx.fillStyle = "#fff"; lastColor = "";
            ctx.fillText(id.length > fit ? "\u2026" + id.slice(id.length - fit + 1) : id, left, y + LANE_H / 2);
            names++;
          }
        }
      }
      for (const [i, x0, bw] of onTop) { ctx.fillStyle = COLOR[J.outcome[i]]; ctx.fillRect(x0, y + 3, bw, LANE_H - 6); }
      ctx.restore();
    });
    // critical path: outlines and the waits between its jobs, drawn inside the plot area only
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, 0, w - LABEL_W, h); ctx.clip();
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
    ctx.restore();
    ctx.lineWidth = 1;
    // lane labels last, on their own background: nothing is drawn over them
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, AXIS_H, LABEL_W, h - AXIS_H);
    ctx.fillStyle = "#333";
    D.lanes.forEach((name, lane) => ctx.fillText(name, 4, AXIS_H + lane * LANE_H + LANE_H / 2, LABEL_W - 8));
    canvas.dataset.names = String(names);
    drawUsage();
  }

  mark("before resources in use");
  // --- resources in use over time: cores, and memory when per-job peak RSS is known -------
  const usage = $("usage");
  const uctx = usage.getContext("2d");
  const PANEL_H = 80;
  const M = Math.pow(2, Math.ceil(Math.log2(N + 1)));
  function steps(weight) { // {t, d} by time: +weight at a job's start, -weight at its stop (stops first)
    // one packed number per event (time, start?, job) sorts natively: 10x faster than objects
    const keys = new Float64Array(2 * N);
    for (let i = 0; i < N; i++) { keys[2 * i] = (stopOf[i] * 2) * M + i; keys[2 * i + 1] = (J.start[i] * 2 + 1) * M + i; }
    keys.sort();
    const t = new Float64Array(2 * N), d = new Float64Array(2 * N);
    let k = 0;
    for (const key of keys) {
      const i = key % M, slot = Math.floor(key / M), v = weight(i);
      if (!v) continue;
      t[k] = Math.floor(slot / 2); d[k] = slot % 2 ? v : -v; k++;
    }
    return { t: t.subarray(0, k), d: d.subarray(0, k) };
  }
  const panels = [{ name: "cores", ev: steps((i) => Math.max(J.cores[i], 1)), cap: run.cores || 0, color: "#4e79a7", fmt: (v) => String(v) }];
  if (RSS) panels.push({ name: "memory (peak RSS of running jobs)", ev: steps((i) => RSS[i] || 0), cap: 0, color: "#b07aa1", fmt: bytes });
  panels.forEach((p) => { let cur = 0, top = 0; for (const d of p.ev.d) { cur += d; if (cur > top) top = cur; } p.peak = top; });
  usage.dataset.panels = panels.map((p) => p.name.split(" ")[0]).join(",");
  usage.dataset.peakCores = String(panels[0].peak);
  if (RSS) usage.dataset.peakMemory = String(panels[1].peak);
  $("usage-note").textContent = `Peak: ${panels[0].peak} core(s) in use` + (run.cores ? ` of ${run.cores}` : "") +
    (RSS ? `; ${bytes(panels[1].peak)} of memory (the sum of the running jobs' peak RSS: an upper bound).` :
      ". Memory is shown when the store has each job's peak RSS.") + " Shares the timeline's zoom.";

  function drawUsage() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 800, h = panels.length * (PANEL_H + 8) + 4;
    usage.style.height = h + "px";
    usage.width = Math.round(w * dpr); usage.height = Math.round(h * dpr);
    uctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    uctx.clearRect(0, 0, w, h);
    uctx.font = "11px system-ui, sans-serif"; uctx.textBaseline = "middle";
    const cols = Math.max(Math.ceil(w - LABEL_W), 1);
    panels.forEach((p, k) => {
      const top = 4 + k * (PANEL_H + 8), scaleMax = Math.max(p.peak, p.cap, 1);
      const yOf = (v) => top + PANEL_H - (v / scaleMax) * PANEL_H;
      // the highest level per pixel column, carried over columns without a change
      const peak = new Float64Array(cols).fill(-1), after = new Float64Array(cols).fill(-1);
      let cur = 0, before = 0;
      const { t: times, d: changes } = p.ev;
      for (let k = 0; k < times.length; k++) {
        cur += changes[k];
        const c = Math.floor(xOf(times[k]) - LABEL_W);
        if (c < 0) { before = cur; continue; }
        if (c >= cols) break;
        if (cur > peak[c]) peak[c] = cur;
        after[c] = cur;
      }
      uctx.fillStyle = p.color;
      let level = before;
      for (let c = 0; c < cols; c++) {
        const v = Math.max(peak[c], level);
        if (after[c] >= 0) level = after[c];
        if (v > 0) uctx.fillRect(LABEL_W + c, yOf(v), 1, top + PANEL_H - yOf(v));
      }
      if (p.cap) {
        uctx.strokeStyle = "#d64541"; uctx.setLineDash([4, 3]);
        uctx.beginPath(); uctx.moveTo(LABEL_W, yOf(p.cap) + 0.5); uctx.lineTo(w, yOf(p.cap) + 0.5); uctx.stroke();
        uctx.setLineDash([]);
      }
      uctx.strokeStyle = "#ddd"; uctx.strokeRect(LABEL_W + 0.5, top + 0.5, w - LABEL_W - 1, PANEL_H);
      uctx.fillStyle = "#333";
      uctx.fillText(p.name, 4, top + 10, LABEL_W - 8);
      uctx.fillStyle = "#666";
      uctx.fillText("peak " + p.fmt(p.peak) + (p.cap ? " of " + p.fmt(p.cap) : ""), 4, top + 26, LABEL_W - 8);
    });
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
    return `<b>${esc(J.id[i])}</b><br>rule ${esc(R[J.rule[i]])} &middot; ${D.outcomes[J.outcome[i]]} &middot; runtime ${fmt(J.dur[i])} &middot; ` +
      `started at +${fmt(J.start[i])} &middot; ${J.cores[i]} core(s) &middot; ${esc(D.lanes[J.lane[i]])}` +
      (RSS && RSS[i] !== null ? ` &middot; peak RSS ${bytes(RSS[i])}` : "") + (CPU && CPU[i] !== null ? ` &middot; CPU ${fmt(Math.round(CPU[i] * 1000))}` : "") +
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
  $("colour-by").addEventListener("change", () => { byRule = $("colour-by").value === "rule"; drawLegend(); drawTimeline(); });
  window.addEventListener("resize", drawTimeline);

  mark("before time shares");
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

  mark("before failures");
  // --- failures, grouped by rule and message --------------------------------------------
  if (D.failures.length) {
    $("failures-section").hidden = false;
    const failed = counts[1] + counts[2];
    const MORE = 20;
    $("failures").innerHTML = `<p>${failed} job(s) failed or were killed, in ${D.failures.length} group(s) by rule and message; ` +
      "each group shows its first job's traceback and output.</p>" +
      D.failures.map((f, k) => {
        const i = f.rows[0], others = f.rows.slice(1);
        return `<details class="failure" data-count="${f.rows.length}" id="failure-${i}"${k < 3 ? " open" : ""}><summary>` +
          `<span class="count">${f.rows.length}&times;</span> <b>${esc(f.rule)}</b>: ${esc(f.message)}</summary>` +
          `<div>First: <h3>${esc(J.id[i])}</h3> <span class="out-${D.outcomes[J.outcome[i]]}">${D.outcomes[J.outcome[i]]}</span> after ${fmt(J.dur[i])}; ` +
          `ran because: ${esc(D.reasons[J.reason[i]])}</div>` +
          (f.traceback ? `<div>Traceback:</div><pre class="traceback">${esc(f.traceback)}</pre>` : "") +
          (f.stderr ? `<div>Last lines of stderr:</div><pre class="stderr">${esc(f.stderr)}</pre>` : "") +
          (f.stdout ? `<div>Last lines of stdout:</div><pre class="stdout">${esc(f.stdout)}</pre>` : "") +
          (f.log_kept === false ? "<div><i>The store kept no output of this job from this run (a later run replaced it).</i></div>" : "") +
          (f.traceback === undefined ? "<div><i>Too many groups: output shown for the first 200 only.</i></div>" : "") +
          (others.length ? `<div class="more">and ${others.length} more like it: ` +
            others.slice(0, MORE).map((o) => esc(J.id[o])).join(", ") + (others.length > MORE ? ", &hellip;" : "") + "</div>" : "") +
          "</details>";
      }).join("");
  }

  mark("before the jobs table");
  // --- the jobs table ------------------------------------------------------------------
  const PAGE = 300;
  let sortKey = "start", sortDir = 1, limit = PAGE, matching = [];
  const keyOf = {
    id: (i) => J.id[i], rule: (i) => R[J.rule[i]], outcome: (i) => J.outcome[i], dur: (i) => J.dur[i], start: (i) => J.start[i],
    cores: (i) => J.cores[i], lane: (i) => J.lane[i], reason: (i) => D.reasons[J.reason[i]],
  };
  const haystack = J.id.map((id, i) => (id + "\u0000" + R[J.rule[i]] + "\u0000" + D.outcomes[J.outcome[i]] + "\u0000" + D.reasons[J.reason[i]]).toLowerCase());
  $("rule-filter").innerHTML += shownRules.filter((s) => s.ran).map((s) => `<option value="${s.r}">${esc(s.name)} (${s.ran})</option>`).join("");

  function refreshTable() {
    const needle = $("filter").value.trim().toLowerCase();
    const rule = +$("rule-filter").value;
    matching = [];
    for (let i = 0; i < N; i++) if ((rule < 0 || J.rule[i] === rule) && (!needle || haystack[i].includes(needle))) matching.push(i);
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
      `<tr data-row="${i}"${i === selected ? ' class="selected"' : ""}><td class="id">${esc(J.id[i])}</td><td>${esc(R[J.rule[i]])}</td>` +
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
  $("rule-filter").addEventListener("change", () => { limit = PAGE; refreshTable(); });
  function showRule(r) {
    $("rule-filter").value = String(r);
    if ($("rule-filter").value !== String(r)) return; // a rule with no job that ran
    limit = PAGE; refreshTable();
    $("jobs-section").scrollIntoView({ block: "start" });
  }
  document.querySelector("#jobs tbody").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr");
    if (tr) select(+tr.dataset.row, false);
  });

  mark("before selection");
  // --- selection ---------------------------------------------------------------------
  function select(i, fromTimeline) {
    selected = i;
    drawTimeline();
    document.querySelectorAll("#jobs tr.selected").forEach((tr) => tr.classList.remove("selected"));
    const tr = document.querySelector(`#jobs tr[data-row="${i}"]`);
    if (tr) { tr.classList.add("selected"); if (fromTimeline) tr.scrollIntoView({ block: "nearest" }); }
    if (G && G.nodeOf.has(J.id[i])) { $("graph-job").value = J.id[i]; drawGraph(G.nodeOf.get(J.id[i])); }
  }

  mark("before the job graph");
  // --- the job graph: whole (up to 250 jobs), a job's neighbourhood, or the rule graph -----
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
    const jobs = invariant.reduce((k, inv) => k + (inv ? 0 : 1), 0);
    return { ids: g.ids, types: g.types, names: g.type_names, rules: g.rules, ups, downs, nodeOf, rowOf, invariant, jobs,
      blocked: new Set(D.blocked) };
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

  function layout(nodes, ups, downs) { // columns by longest path, rows by barycentre
    const inSet = new Set(nodes);
    const layer = new Map(), indeg = new Map();
    nodes.forEach((v) => indeg.set(v, ups[v].filter((u) => inSet.has(u) && u !== v).length));
    let queue = nodes.filter((v) => !indeg.get(v));
    queue.forEach((v) => layer.set(v, 0));
    while (queue.length) {
      const next = [];
      for (const v of queue) for (const w of downs[v]) {
        if (!inSet.has(w) || w === v) continue;
        layer.set(w, Math.max(layer.get(w) || 0, layer.get(v) + 1));
        indeg.set(w, indeg.get(w) - 1);
        if (!indeg.get(w)) next.push(w);
      }
      queue = next;
    }
    const columns = [];
    nodes.forEach((v) => { const l = layer.get(v) || 0; (columns[l] = columns[l] || []).push(v); });
    for (let l = 0; l < columns.length; l++) columns[l] = columns[l] || [];
    const pos = new Map();
    columns.forEach((col) => col.forEach((v, k) => pos.set(v, k)));
    for (let pass = 0; pass < 4; pass++) { // barycentre ordering, down then up
      const cols = pass % 2 ? columns.slice().reverse() : columns;
      cols.forEach((col) => {
        const bary = new Map(col.map((v) => {
          const nb = (pass % 2 ? downs[v] : ups[v]).filter((u) => inSet.has(u));
          return [v, nb.length ? nb.reduce((s, u) => s + pos.get(u), 0) / nb.length : pos.get(v)];
        }));
        col.sort((a, b) => bary.get(a) - bary.get(b));
        col.forEach((v, k) => pos.set(v, k));
      });
    }
    return { columns, pos, inSet };
  }

  // nodes: ids; ups: arrays of upstream ids; node(v, x, y, w, h) -> SVG of one node
  function svg(nodes, ups, downs, NH, node, edgeTitle) {
    const { columns, pos, inSet } = layout(nodes, ups, downs);
    const NW = 200, CW = 250, RH = NH + 8, PAD = 10;
    const rows = Math.max(...columns.map((c) => c.length), 1);
    const at = new Map();
    columns.forEach((col, l) => col.forEach((v) => at.set(v, [PAD + l * CW, PAD + (rows - col.length) * RH / 2 + pos.get(v) * RH])));
    const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${PAD * 2 + columns.length * CW}" height="${PAD * 2 + rows * RH}" data-nodes="${nodes.length}">`];
    parts.push('<g fill="none" stroke="#999" stroke-width="1">');
    for (const v of nodes) for (const u of ups[v]) {
      if (!inSet.has(u) || u === v) continue;
      const [x1, y1] = at.get(u), [x2, y2] = at.get(v);
      const a = x1 + NW, b = y1 + NH / 2, c = x2, d = y2 + NH / 2, m = (a + c) / 2;
      const back = c <= a ? ` stroke-dasharray="3 3"` : "";
      parts.push(`<path d="M${a},${b} C${m},${b} ${m},${d} ${c},${d}"${back}>${edgeTitle ? `<title>${esc(edgeTitle(u, v))}</title>` : ""}</path>`);
    }
    parts.push("</g>");
    for (const v of nodes) { const [x, y] = at.get(v); parts.push(node(v, x, y, NW, NH)); }
    parts.push("</svg>");
    return parts.join("");
  }

  function jobNode(start) {
    return (v, x, y, NW, NH) => {
      const row = G.rowOf.has(v) ? G.rowOf.get(v) : -1;
      const blocked = G.blocked.has(v);
      const fill = row >= 0 ? LIGHT[J.outcome[row]] : blocked ? "#fff3d6" : "#f2f2f2";
      const stroke = v === start ? SELECT : row >= 0 && critical.has(row) ? CRIT : row >= 0 ? COLOR[J.outcome[row]] : blocked ? "#c99a2e" : "#bbb";
      const sw = v === start || (row >= 0 && critical.has(row)) ? 3 : row >= 0 ? 2 : 1;
      const label = G.ids[v].length > 29 ? "\u2026" + G.ids[v].slice(-28) : G.ids[v];
      const title = `${G.ids[v]} (rule ${R[G.rules[v]]}, ${G.names[G.types[v]]})` +
        (row >= 0 ? `: ${D.outcomes[J.outcome[row]]}, ${fmt(J.dur[row])}, ${D.reasons[J.reason[row]]}` : blocked ? ": blocked by a failure upstream" : ": did not run");
      return `<g class="node${row >= 0 ? " ran" : ""}" data-node="${v}"><title>${esc(title)}</title>` +
        `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="4" fill="${fill}" stroke="${stroke}" stroke-width="${sw}"/>` +
        `<text x="${x + 6}" y="${y + 15}" fill="${row >= 0 ? "#111" : "#777"}">${esc(label)}</text></g>`;
    };
  }

  function drawGraph(start) {
    if (!G) {
      $("graph-note").textContent = "The store kept no job graph for this run (it is kept for the last 10 runs, by pypipegraph versions that write reports).";
      $("graph-all").hidden = true;
      return;
    }
    center = start;
    const depth = +$("graph-depth").value;
    const nodes = visibleNodes(start, depth);
    const whole = start < 0 && nodes.length <= MAX_NODES;
    $("graph-all").hidden = visibleNodes(-1, 0).length > MAX_NODES; // offered only when it can be drawn
    $("graph-rules").hidden = !$("graph-all").hidden;
    if (start < 0 && !whole) { drawRuleGraph(); return; }
    const ran = nodes.filter((v) => G.rowOf.has(v)).length;
    $("graph-title").textContent = "Job graph";
    $("graph-note").textContent = (whole ? "Whole graph: " : `Around ${G.ids[start]} (depth ${depth}): `) +
      `${nodes.length} of ${G.ids.length} job(s) shown, ${ran} of them ran (coloured by outcome; amber: blocked by a failure; grey: up to date or not needed).` +
      (nodes.length >= MAX_NODES && !whole ? ` Capped at ${MAX_NODES} jobs.` : "");
    $("graph").innerHTML = svg(nodes, G.ups, G.downs, 22, jobNode(start));
  }

  let RG = null;
  function ruleGraph() { // rules as nodes, an edge where a job of one rule feeds a job of another
    const showInv = $("show-invariants").checked;
    const ups = R.map(() => new Map()), downs = R.map(() => new Set()), members = R.map(() => 0);
    G.rules.forEach((r, v) => { if (showInv || !G.invariant[v]) members[r]++; });
    for (let v = 0; v < G.ids.length; v++) {
      if (!showInv && G.invariant[v]) continue;
      const rv = G.rules[v];
      for (const u of G.ups[v]) {
        if (!showInv && G.invariant[u]) continue;
        const ru = G.rules[u];
        ups[rv].set(ru, (ups[rv].get(ru) || 0) + 1);
        downs[ru].add(rv);
      }
    }
    const nodes = R.map((_, r) => r).filter((r) => members[r]);
    return { nodes, members, edgeCount: ups, ups: ups.map((m) => Array.from(m.keys())), downs: downs.map((d) => Array.from(d)) };
  }

  function drawRuleGraph() {
    RG = ruleGraph();
    center = -1;
    $("graph-title").textContent = "Rule graph";
    $("graph-note").textContent = `The graph has ${G.jobs} jobs (and ${G.ids.length - G.jobs} invariants): too many to draw one by one, ` +
      `so here are its ${RG.nodes.length} rules, each with its jobs' outcomes. An arrow means jobs of one rule feed jobs of the other ` +
      "(hover for how many edges). Click a rule to list its jobs; type a job id to see the jobs around it.";
    const node = (r, x, y, NW, NH) => {
      const s = ruleStat[r];
      const stroke = s.outcome[1] ? COLOR[1] : s.outcome[2] ? COLOR[2] : s.ran ? COLOR[0] : "#bbb";
      const name = s.name.length > 29 ? "\u2026" + s.name.slice(-28) : s.name;
      const self = RG.edgeCount[r].get(r);
      const line = `${RG.members[r]} job(s) · ran ${s.ran}` + (s.outcome[1] ? ` · failed ${s.outcome[1]}` : "") +
        (s.blocked ? ` · blocked ${s.blocked}` : "");
      return `<g class="node rule" data-rule="${r}"><title>${esc(s.name)}: ${esc(line)}` +
        (self ? `; ${self} edge(s) between its own jobs` : "") + `</title>` +
        `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="6" fill="${s.ran ? "#fff" : "#f2f2f2"}" stroke="${stroke}" stroke-width="2"/>` +
        `<rect x="${x}" y="${y}" width="6" height="${NH}" fill="${ruleColor[r]}"/>` +
        `<text x="${x + 12}" y="${y + 15}" fill="#111">${esc(name)}</text>` +
        `<text x="${x + 12}" y="${y + 30}" fill="#555">${esc(line)}</text></g>`;
    };
    $("graph").innerHTML = svg(RG.nodes, RG.ups, RG.downs, 38, node,
      (u, v) => `${RG.edgeCount[v].get(u)} edge(s) from ${R[u]} to ${R[v]}`);
  }

  function defaultCenter() {
    const pick = D.failures.length ? D.failures[0].rows[0] : D.critical.length ? D.critical[D.critical.length - 1] : N ? 0 : -1;
    if (pick >= 0 && G.nodeOf.has(J.id[pick])) return G.nodeOf.get(J.id[pick]);
    return G.ids.findIndex((_, v) => !G.invariant[v]);
  }

  if (G) {
    $("graph").addEventListener("click", (ev) => {
      const rule = ev.target.closest("g.rule");
      if (rule) { showRule(+rule.dataset.rule); return; }
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
    $("graph-rules").addEventListener("click", () => { $("graph-job").value = ""; drawGraph(-1); });
  }

  drawLegend();
  mark("setup");
  drawTimeline();
  mark("timeline drawn");
  refreshTable();
  mark("table");
  drawGraph(-1);
  mark("graph");
  // for tests and the curious: counts, and where a job's bar is drawn (canvas pixels)
  window.ppgReport = {
    bars: N, lanes: lanes.length, critical: D.critical.map((i) => J.id[i]), matching: () => matching.length,
    names: () => +canvas.dataset.names, rules: R.length, timings,
    barCenter: (id) => {
      const i = J.id.indexOf(id);
      return i < 0 ? null : { x: (xOf(J.start[i]) + Math.max(xOf(stopOf[i]), xOf(J.start[i]) + 1)) / 2, y: AXIS_H + J.lane[i] * LANE_H + LANE_H / 2 };
    },
  };
})();
