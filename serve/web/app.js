// lot serve's page: a run list, a run's charts, a compare view and the
// reports, over the read-only JSON API of package serve. Series arrive
// downsampled by the server; the page keeps only what it draws.
"use strict";

const main = document.getElementById("main");
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
let cleanup = []; // closes the current view's charts and streams

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k.nodeType ? k : String(k));
  return e;
}

async function api(path) {
  const r = await fetch(path);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

const fmt = v => v === null || v === undefined ? "" : (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));

function download(name, blob) {
  const a = h("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function csvOf(columns, rows) {
  const q = v => { const s = v === null || v === undefined ? "" : String(v); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
  return [columns.map(q).join(",")].concat(rows.map(r => r.map(q).join(","))).join("\n") + "\n";
}

// table draws rows (arrays of cells) with sortable headers and a CSV button.
function table(name, columns, rows, render) {
  let order = null, desc = false;
  const tbody = h("tbody");
  const draw = () => {
    const rs = rows.slice();
    if (order !== null) rs.sort((a, b) => {
      const x = a[order], y = b[order];
      const c = (x === null || x === undefined) - (y === null || y === undefined) || (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y)));
      return desc ? -c : c;
    });
    tbody.replaceChildren(...rs.map(r => h("tr", {}, r.map((v, i) => render ? render(i, v, r) : h("td", { class: typeof v === "number" ? "num" : "" }, fmt(v))))));
  };
  const head = h("tr", {}, columns.map((c, i) => h("th", { onclick: () => { desc = order === i ? !desc : false; order = i; draw(); } }, c)));
  draw();
  const t = h("table", { "data-table": name }, h("thead", {}, head), tbody);
  const bar = h("div", { class: "toolbar" }, h("button", { onclick: () => download(name + ".csv", new Blob([csvOf(columns, rows)], { type: "text/csv" })) }, "CSV"));
  return h("div", {}, t, bar);
}

// ---- charts ----

// taskLines marks task boundaries (task_ends on a step axis).
function taskLines(ends) {
  return {
    hooks: {
      draw: [u => {
        if (!ends || !ends.length) return;
        const ctx = u.ctx, { left, top, width, height } = u.bbox;
        ctx.save();
        ctx.strokeStyle = "rgba(0,0,0,0.18)";
        ctx.lineWidth = 1;
        ctx.setLineDash([4, 4]);
        for (const x of ends) {
          const px = Math.round(u.valToPos(x, "x", true));
          if (px < left || px > left + width) continue;
          ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, top + height); ctx.stroke();
        }
        ctx.restore();
      }],
    },
  };
}

// Chart draws lines ({label, x, y, lo, hi}) with uPlot; zooming by drag
// asks onZoom for the range at full detail.
class Chart {
  constructor(el, title, opts) {
    this.el = el; this.title = title; this.opts = opts || {};
    this.box = h("div", { class: "plot" });
    this.titleEl = h("div", { class: "title" }, title);
    this.note = h("div", { class: "note" });
    const bar = h("div", { class: "toolbar" },
      h("button", { onclick: () => this.png() }, "PNG"),
      h("button", { onclick: () => this.svg() }, "SVG"),
      h("button", { onclick: () => this.csv() }, "CSV"),
      this.opts.onZoom ? h("button", { onclick: () => this.opts.onZoom(null, null) }, "Reset zoom") : null);
    el.classList.add("chart");
    el.replaceChildren(this.titleEl, this.box, this.note, bar);
    this.u = null;
  }

  set(chart) {
    this.chart = chart;
    const lines = chart.lines;
    const tables = lines.map(l => [l.x, l.y].concat(l.lo ? [l.lo, l.hi] : []));
    const data = tables.length ? uPlot.join(tables) : [[]];
    const series = [{ label: chart.per_task ? "task" : "step" }];
    const bands = [];
    lines.forEach((l, i) => {
      const c = COLORS[i % COLORS.length];
      series.push({ label: l.label, stroke: c, width: 1.25, spanGaps: true, points: { show: l.x.length < 60 } });
      if (l.lo) {
        const hi = series.length + 1, lo = series.length;
        series.push({ label: l.label + " min", stroke: c + "55", width: 0.5, spanGaps: true, points: { show: false } });
        series.push({ label: l.label + " max", stroke: c + "55", width: 0.5, spanGaps: true, points: { show: false } });
        bands.push({ series: [hi, lo], fill: c + "22" });
      }
    });
    const width = Math.max(400, this.el.clientWidth - 20);
    const self = this;
    const o = {
      width, height: 280, series, bands,
      scales: { x: { time: false }, y: { distr: this.opts.logY ? 3 : 1 } },
      axes: [{ label: chart.per_task ? "task" : "update step" }, { label: chart.metric }],
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      plugins: [taskLines(chart.task_ends)],
      hooks: {
        setSelect: [u => {
          if (!self.opts.onZoom || u.select.width < 3) return;
          const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ width: 0, height: 0 }, false);
          self.opts.onZoom(a, b);
        }],
      },
    };
    if (this.u) this.u.destroy();
    this.u = new uPlot(o, data, this.box);
    // What the page holds, for the eye and for the browser test.
    const most = Math.max(0, ...lines.map(l => l.x.length));
    const lastX = Math.max(-Infinity, ...lines.map(l => l.x.length ? l.x[l.x.length - 1] : -Infinity));
    this.el.dataset.points = most;
    this.el.dataset.lines = lines.length;
    this.el.dataset.lastX = isFinite(lastX) ? lastX : "";
    this.note.textContent = lines.map(l => `${l.label}: ${l.x.length} points drawn of ${l.total}`).join(" · ");
  }

  error(msg) {
    if (this.u) { this.u.destroy(); this.u = null; }
    this.box.replaceChildren(h("p", { class: "error" }, msg));
    this.el.dataset.points = 0;
  }

  name() { return (this.title || "chart").replace(/[^\w.-]+/g, "_"); }

  png() {
    if (!this.u) return;
    const src = this.u.ctx.canvas, pad = 30, legend = 18 * this.chart.lines.length;
    const c = h("canvas", { width: src.width, height: src.height + pad + legend });
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
    ctx.fillStyle = "#222"; ctx.font = "bold 16px sans-serif"; ctx.fillText(this.title, 10, 20);
    ctx.drawImage(src, 0, pad);
    ctx.font = "13px sans-serif";
    this.chart.lines.forEach((l, i) => { ctx.fillStyle = COLORS[i % COLORS.length]; ctx.fillText("— " + l.label, 10, src.height + pad + 14 + 18 * i); });
    c.toBlob(b => download(this.name() + ".png", b));
  }

  svg() {
    if (!this.u) return;
    download(this.name() + ".svg", new Blob([chartSVG(this.u, this.chart, this.title)], { type: "image/svg+xml" }));
  }

  csv() {
    if (!this.chart) return;
    const rows = [];
    for (const l of this.chart.lines) l.x.forEach((x, i) => rows.push([l.label, x, l.y[i], l.lo ? l.lo[i] : "", l.hi ? l.hi[i] : ""]));
    download(this.name() + ".csv", new Blob([csvOf(["line", this.chart.per_task ? "task" : "step", this.chart.metric, "min", "max"], rows)], { type: "text/csv" }));
  }

  destroy() { if (this.u) this.u.destroy(); }
}

// chartSVG writes what the chart shows as a standalone SVG: the lines,
// their bands, the task boundaries, axes with uPlot's ticks and a legend.
function chartSVG(u, chart, title) {
  const W = u.width, H = u.height + 40 + 18 * chart.lines.length;
  const { left, top, width, height } = u.bbox, r = window.devicePixelRatio || 1;
  const L = left / r, T = top / r + 30, Wd = width / r, Ht = height / r;
  const X = v => (L + u.valToPos(v, "x")).toFixed(1), Y = v => (T + u.valToPos(v, "y")).toFixed(1);
  const esc = s => String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`, `<text x="10" y="20" font-weight="bold" font-size="15">${esc(title)}</text>`,
    `<rect x="${L}" y="${T}" width="${Wd}" height="${Ht}" fill="none" stroke="#999"/>`];
  const [x0, x1] = [u.scales.x.min, u.scales.x.max], [y0, y1] = [u.scales.y.min, u.scales.y.max];
  for (const e of chart.task_ends || []) if (e >= x0 && e <= x1) out.push(`<line x1="${X(e)}" x2="${X(e)}" y1="${T}" y2="${T + Ht}" stroke="#ccc" stroke-dasharray="4 4"/>`);
  u.axes.forEach((a, i) => {
    const sc = i === 0 ? "x" : "y", [lo, hi] = i === 0 ? [x0, x1] : [y0, y1];
    const ticks = (a._splits || []).filter(v => v >= lo && v <= hi);
    for (const v of ticks) {
      if (i === 0) out.push(`<text x="${X(v)}" y="${T + Ht + 14}" text-anchor="middle">${esc(fmt(v))}</text>`);
      else out.push(`<text x="${L - 4}" y="${Number(Y(v)) + 4}" text-anchor="end">${esc(fmt(v))}</text>`);
    }
    void sc;
  });
  const inside = (x, y) => x >= x0 && x <= x1 && y !== null && y !== undefined && isFinite(y);
  chart.lines.forEach((l, i) => {
    const c = COLORS[i % COLORS.length];
    if (l.lo) {
      const up = [], down = [];
      l.x.forEach((x, j) => { if (inside(x, l.hi[j])) { up.push(`${X(x)},${Y(Math.min(Math.max(l.hi[j], y0), y1))}`); down.push(`${X(x)},${Y(Math.min(Math.max(l.lo[j], y0), y1))}`); } });
      if (up.length) out.push(`<polygon points="${up.concat(down.reverse()).join(" ")}" fill="${c}" fill-opacity="0.13"/>`);
    }
    const pts = [];
    l.x.forEach((x, j) => { if (inside(x, l.y[j])) pts.push(`${X(x)},${Y(Math.min(Math.max(l.y[j], y0), y1))}`); });
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${c}" stroke-width="1.25"/>`);
    out.push(`<text x="10" y="${T + Ht + 36 + 18 * i}" fill="${c}">— ${esc(l.label)}</text>`);
  });
  out.push(`<text x="${L + Wd / 2}" y="${T + Ht + 28}" text-anchor="middle">${chart.per_task ? "task" : "update step"}</text>`, "</svg>");
  return out.join("\n");
}

// live listens for appended rows of the runs and calls onChange.
function live(ids, onChange) {
  const es = new EventSource("/api/events?" + ids.map(i => "id=" + encodeURIComponent(i)).join("&"));
  const badge = document.getElementById("live");
  es.addEventListener("hello", () => { badge.textContent = "● live"; });
  es.addEventListener("change", () => onChange());
  es.onerror = () => { badge.textContent = "○ reconnecting"; };
  cleanup.push(() => { es.close(); badge.textContent = ""; });
}

// ---- views ----

async function runList() {
  const list = await api("/api/runs");
  const filter = h("input", { type: "search", placeholder: "filter: name, status, config…", size: 40 });
  const selected = new Set();
  const columns = ["", "run", "status", "progress", "step", "final acc", "mean online acc", "differs from siblings", "skipped lines"];
  const mk = runs => runs.map(r => [r.id, r.name, r.status, r.tasks ? r.tasks_done / r.tasks : r.tasks_done, r.step, r.final_acc, r.mean_online_acc,
    Object.entries(r.diff).sort().map(([k, v]) => `${k}=${v}`).join(" "), r.skipped_lines]);
  const byID = Object.fromEntries(list.runs.map(r => [r.id, r]));
  const holder = h("div", { id: "runs" });
  const render = (i, v, row) => {
    const r = byID[row[0]];
    switch (i) {
      case 0: { const cb = h("input", { type: "checkbox", "data-id": r.id, onchange: e => e.target.checked ? selected.add(r.id) : selected.delete(r.id) }); cb.checked = selected.has(r.id); return h("td", {}, cb); }
      case 1: return h("td", {}, h("a", { href: "#/run/" + encodeURIComponent(r.id), class: "run-link" }, r.name), r.error ? h("div", { class: "error" }, r.error) : null);
      case 2: return h("td", { class: "status-" + v }, v);
      case 3: return h("td", { class: "num" }, r.tasks ? `${r.tasks_done}/${r.tasks} tasks` : `${r.tasks_done} tasks`);
      case 7: return h("td", { class: "diff" }, Object.entries(r.diff).sort().map(([k, v]) => h("span", {}, `${k}=${v === "" ? "(unset)" : v}`)));
      default: return h("td", { class: typeof v === "number" ? "num" : "" }, fmt(v));
    }
  };
  const draw = () => {
    const q = filter.value.toLowerCase();
    const runs = list.runs.filter(r => !q || [r.name, r.status, ...Object.entries(r.diff).map(([k, v]) => `${k}=${v}`)].join(" ").toLowerCase().includes(q));
    holder.replaceChildren(table("runs", columns, mk(runs), render));
  };
  filter.addEventListener("input", draw);
  draw();
  const compare = h("button", { id: "compare-selected", onclick: () => { if (selected.size) location.hash = "#/compare?" + [...selected].map(i => "id=" + encodeURIComponent(i)).join("&"); } }, "Compare selected");
  const reports = list.reports.length ? [h("h2", {}, "Reports"), h("ul", {}, list.reports.map(id => h("li", {}, h("a", { href: "#/report/" + encodeURIComponent(id) }, id.replace(/^\d+:/, "")))))] : [];
  main.replaceChildren(h("h1", {}, `Runs under ${list.roots.join(", ")}`), h("div", { class: "toolbar" }, filter, compare), holder, ...reports);
  main.dataset.view = "runs";
  const t = setInterval(async () => {
    try {
      const fresh = await api("/api/runs");
      list.runs = fresh.runs;
      for (const r of fresh.runs) byID[r.id] = r;
      draw();
    } catch (e) { /* the next poll tries again */ }
  }, 5000);
  cleanup.push(() => clearInterval(t));
}

// metricPicker is a select over the run's metrics.
function metricPicker(names, value, onChange) {
  const s = h("select", { onchange: () => onChange(s.value) }, names.map(n => h("option", { value: n }, n)));
  s.value = value;
  return s;
}

// seriesChart is one chart of a metric: of a run (ids of one) or overlaid
// runs; it keeps its zoom window and refetches on live changes.
function seriesChart(ids, metric, names, taskEnds) {
  const el = h("div", { class: "series-chart" });
  let from = null, to = null, logY = false;
  const picker = metricPicker(names, metric, m => { metric = m; from = to = null; load(); });
  const log = h("input", { type: "checkbox", onchange: e => { logY = e.target.checked; chart.opts.logY = logY; load(); } });
  const taskFrom = h("input", { type: "number", min: 1, size: 4, placeholder: "task" });
  const taskTo = h("input", { type: "number", min: 1, size: 4, placeholder: "task" });
  const zoomTasks = () => {
    const ends = taskEnds();
    const a = Number(taskFrom.value), b = Number(taskTo.value) || a;
    if (!a) return;
    if (names.perTask && names.perTask.has(metric)) { from = a; to = b; }
    else { from = a > 1 ? ends[a - 2] : 0; to = ends[b - 1] !== undefined ? ends[b - 1] : null; }
    load();
  };
  const bar = h("div", { class: "toolbar" }, "metric ", picker, h("label", {}, log, " log y"),
    " tasks ", taskFrom, "–", taskTo, h("button", { onclick: zoomTasks }, "Zoom"));
  const box = h("div");
  el.append(bar, box);
  const chart = new Chart(box, metric, { onZoom: (a, b) => { from = a; to = b; load(); } });
  async function load() {
    const q = new URLSearchParams();
    ids.forEach(i => q.append("id", i));
    q.set("metric", metric);
    if (from !== null) q.set("from", from);
    if (to !== null) q.set("to", to);
    chart.title = metric;
    chart.titleEl.textContent = metric + (from !== null ? `  (${fmt(from)} – ${to === null ? "end" : fmt(to)})` : "");
    try {
      chart.set(await api((ids.length > 1 || names.compare ? "/api/compare?" : "/api/series?") + q));
    } catch (e) { chart.error(e.message); }
  }
  cleanup.push(() => chart.destroy());
  return { el, load };
}

async function runPage(id) {
  let run = await api("/api/run?id=" + encodeURIComponent(id));
  const head = h("div");
  const tasksBox = h("div");
  const drawHead = () => {
    head.replaceChildren(h("h1", {}, run.name, " ", h("span", { class: "status-" + run.status, id: "run-status" }, run.status)),
      h("p", { class: "note" }, `${run.tasks_done}${run.tasks ? "/" + run.tasks : ""} tasks · step ${fmt(run.step)} · ${run.rows} metrics rows · final acc ${fmt(run.final_acc)} · mean online acc ${fmt(run.mean_online_acc)}`,
        run.skipped["metrics.jsonl"] || run.skipped["tasks.jsonl"] ? ` · skipped malformed lines: metrics ${run.skipped["metrics.jsonl"]}, tasks ${run.skipped["tasks.jsonl"]}` : "",
        run.partial ? " · metrics.jsonl ends inside a line" : ""),
      h("details", {}, h("summary", {}, "config.yaml"), h("pre", { class: "config" }, run.config)));
    tasksBox.replaceChildren(h("h2", {}, "Tasks"), table("tasks", run.task_columns, run.task_rows));
  };
  drawHead();
  const names = run.metrics.concat(run.task_metrics);
  names.perTask = new Set(run.task_metrics);
  const ends = () => run.task_ends;
  const charts = [];
  const grid = h("div", { class: "charts" });
  const add = m => { const c = seriesChart([id], m, names, ends); charts.push(c); grid.append(c.el); c.load(); };
  const addBtn = h("button", { id: "add-chart", onclick: () => add(names[0]) }, "Add chart");
  main.replaceChildren(head, h("h2", {}, "Charts"), h("div", { class: "toolbar" }, addBtn), grid, tasksBox);
  main.dataset.view = "run";
  const accCharts = ["online_acc", "final_acc"].filter(m => names.perTask.has(m));
  accCharts.forEach(add);
  if (run.metrics.includes("acc")) add("acc");
  const lr = run.metrics.find(m => m.startsWith("lr."));
  if (lr) add(lr);
  live([id], async () => {
    run = await api("/api/run?id=" + encodeURIComponent(id));
    drawHead();
    charts.forEach(c => c.load());
  });
}

async function comparePage(params) {
  const ids = params.getAll("id");
  if (!ids.length) {
    main.replaceChildren(h("h1", {}, "Compare"), h("p", {}, "Select runs in the ", h("a", { href: "#/" }, "run list"), " and press Compare selected."));
    return;
  }
  const infos = await Promise.all(ids.map(i => api("/api/run?id=" + encodeURIComponent(i))));
  const seen = new Set(), names = [];
  for (const r of infos) for (const m of r.task_metrics.concat(r.metrics)) if (!seen.has(m)) { seen.add(m); names.push(m); }
  names.perTask = new Set(infos.flatMap(r => r.task_metrics));
  names.compare = true;
  const metric = params.get("metric") || (names.includes("online_acc") ? "online_acc" : names[0]);
  const c = seriesChart(ids, metric, names, () => infos[0].task_ends);
  main.replaceChildren(h("h1", {}, "Compare ", ids.length, " runs"), h("p", { class: "note" }, infos.map(r => r.name).join(" · ")), c.el);
  main.dataset.view = "compare";
  c.load();
  live(ids, () => c.load());
}

async function reportPage(id) {
  const r = await api("/api/report?id=" + encodeURIComponent(id));
  const body = h("div", { class: "report" });
  body.innerHTML = r.html; // rendered by goldmark, which drops raw HTML
  body.querySelectorAll("table").forEach((t, i) => {
    const rows = [...t.querySelectorAll("tr")].map(tr => [...tr.children].map(c => c.textContent));
    t.after(h("div", { class: "toolbar" }, h("button", { onclick: () => download(`${r.name.replace(/[^\w.-]+/g, "_")}-table${i + 1}.csv`, new Blob([csvOf(rows[0], rows.slice(1))], { type: "text/csv" })) }, "CSV")));
  });
  main.replaceChildren(h("p", { class: "note" }, r.name), body);
  main.dataset.view = "report";
}

async function route() {
  cleanup.forEach(f => f());
  cleanup = [];
  const hash = location.hash.slice(1) || "/";
  const [p, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  main.dataset.view = ""; // set by each view once drawn
  try {
    if (p.startsWith("/run/")) await runPage(decodeURIComponent(p.slice(5)));
    else if (p === "/compare") await comparePage(params);
    else if (p.startsWith("/report/")) await reportPage(decodeURIComponent(p.slice(8)));
    else await runList();
  } catch (e) {
    main.replaceChildren(h("p", { class: "error" }, e.message));
  }
}

window.addEventListener("hashchange", route);
route();
