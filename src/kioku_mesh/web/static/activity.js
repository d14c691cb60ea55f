// Activity: saves per day by agent family and by project (stacked bars drawn
// as inline SVG here: nothing loaded from elsewhere), store size, latency.
import { el, errorBox, get } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f6feb", "#e36209", "#2e7d32", "#8e24aa", "#c62828", "#00838f", "#6d4c41", "#546e7a"];
const TOP = 7; // series drawn on their own; the rest are summed as "other"

function svg(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

function topSeries(series) {
  const names = Object.keys(series);
  const out = names.slice(0, TOP).map((n) => [n, series[n]]);
  if (names.length > TOP) {
    const rest = names.slice(TOP).map((n) => series[n]);
    out.push([`other (${rest.length})`, rest[0].map((_, i) => rest.reduce((s, r) => s + r[i], 0))]);
  }
  return out;
}

export function stackedBars(days, series, title) {
  const W = 760, H = 220, L = 36, B = 28, T = 10;
  const rows = topSeries(series);
  const totals = days.map((_, i) => rows.reduce((s, [, v]) => s + v[i], 0));
  const max = Math.max(1, ...totals);
  const bw = (W - L - 10) / days.length;
  const chart = svg("svg", { class: "chart", width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
  chart.append(svg("title", {}, title));
  for (const f of [0, 0.5, 1]) {
    const y = H - B - f * (H - B - T);
    chart.append(svg("line", { x1: L, x2: W - 5, y1: y, y2: y, stroke: "#e0e4e8" }),
      svg("text", { x: L - 4, y: y + 3, "text-anchor": "end" }, String(Math.round(f * max))));
  }
  days.forEach((day, i) => {
    let y = H - B;
    rows.forEach(([name, values], s) => {
      const h = (values[i] / max) * (H - B - T);
      if (h > 0) {
        const r = svg("rect", { x: L + i * bw + 1, y: y - h, width: Math.max(1, bw - 2), height: h, fill: COLORS[s % COLORS.length] });
        r.append(svg("title", {}, `${day} ${name}: ${values[i]}`));
        chart.append(r);
        y -= h;
      }
    });
    if (i % Math.ceil(days.length / 8) === 0) {
      chart.append(svg("text", { x: L + i * bw + bw / 2, y: H - B + 14, "text-anchor": "middle" }, day.slice(5)));
    }
  });
  const legend = el("div.legend", {}, rows.map(([name], s) => {
    const swatch = el("i");
    swatch.style.background = COLORS[s % COLORS.length];
    return el("span", {}, swatch, name);
  }));
  return el("div", {}, chart, legend);
}

function kib(n) { return n > 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.round(n / 1024)} KiB`; }

export async function renderActivity(root) {
  let d;
  try { d = await get("/api/activity", new URLSearchParams({ days: "30" })); } catch (err) { root.append(errorBox(err)); return; }
  const lat = d.search_latency_ms;
  const ms = (v) => (v === null ? "-" : `${v} ms`);
  root.append(
    el("h2", {}, "Activity"),
    el("div.cards", {},
      el("div.card", {}, el("div.dim", {}, "saves, last 30 days"), el("div.big", { id: "saves-total" }, String(d.saves.total))),
      el("div.card", {}, el("div.dim", {}, "memories stored"), el("div.big", {}, String(d.store.memories))),
      el("div.card", {}, el("div.dim", {}, "store size"), el("div.big", { id: "store-size" }, kib(d.store.db_bytes + d.store.wal_bytes))),
      el("div.card", { id: "latency" }, el("div.dim", {}, `search latency (this server, ${lat.count} searches)`),
        el("div.big", {}, `p50 ${ms(lat.p50)}`), el("div", {}, `p90 ${ms(lat.p90)} · p99 ${ms(lat.p99)}`))),
    el("h3", {}, "Saves per day by agent family"),
    el("div", { id: "chart-agents" }, stackedBars(d.saves.days, d.saves.by_agent, "saves per day by agent family")),
    el("h3", {}, "Saves per day by project"),
    el("div", { id: "chart-projects" }, stackedBars(d.saves.days, d.saves.by_project, "saves per day by project")),
  );
}
