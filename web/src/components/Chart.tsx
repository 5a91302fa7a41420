// One line chart drawn with uPlot (canvas). Every series has its own x values (uPlot's
// faceted mode 2), so runs logged at different steps need no join: 100 runs of 1,000 points
// draw as 100 arrays, not a 100,000-row table. Per series: a min/max band, the line as
// logged (faded when smoothing is on) and the smoothed line.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { nearestIndex, X_RELATIVE, X_STEP, X_WALL, type PlotSeries, type XAxis } from "../lib/chartData";
import { withAlpha } from "../lib/colors";
import { fmtDate, fmtDuration, fmtNumber } from "../lib/format";
import { registerChart, unregisterChart } from "../testhook";

export interface ChartProps {
  id: string;
  series: PlotSeries[];
  xAxis: XAxis;
  logY: boolean;
  smoothing: boolean;
  theme: string;
  height?: number;
  /** Drag-selected x range (in x-axis units). */
  onZoom?: (x0: number, x1: number) => void;
  onResetZoom?: () => void;
  /** The x range shown while zoomed (null: everything). */
  xRange?: [number, number] | null;
  meta?: Record<string, unknown>;
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** A band between min and max: a filled polygon, broken at buckets without a value. */
function bandPaths(getMins: () => (number | null)[] | undefined): uPlot.Series.PathBuilder {
  return (u, seriesIdx) => {
    const data = u.data[seriesIdx] as unknown as [number[], (number | null)[]];
    const xs = data[0];
    const maxs = data[1];
    const mins = getMins() ?? maxs;
    const fill = new Path2D();
    let start = -1;
    const flush = (end: number) => {
      if (start < 0) return;
      fill.moveTo(u.valToPos(xs[start], "x", true), u.valToPos(maxs[start] as number, "y", true));
      for (let i = start + 1; i <= end; i++) fill.lineTo(u.valToPos(xs[i], "x", true), u.valToPos(maxs[i] as number, "y", true));
      for (let i = end; i >= start; i--) fill.lineTo(u.valToPos(xs[i], "x", true), u.valToPos(mins[i] as number, "y", true));
      fill.closePath();
      start = -1;
    };
    for (let i = 0; i < xs.length; i++) {
      const ok = maxs[i] != null && mins[i] != null && Number.isFinite(xs[i]);
      if (ok && start < 0) start = i;
      if (!ok) flush(i - 1);
    }
    flush(xs.length - 1);
    return { stroke: new Path2D(), fill, clip: undefined, flags: 0 } as unknown as uPlot.Series.Paths;
  };
}

function yRange(series: PlotSeries[], logY: boolean, xRange: [number, number] | null | undefined, smoothing: boolean): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const take = (v: number | null) => {
    if (v == null || !Number.isFinite(v) || (logY && v <= 0)) return;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  };
  for (const s of series) {
    for (let i = 0; i < s.x.length; i++) {
      if (xRange && (s.x[i] < xRange[0] || s.x[i] > xRange[1])) continue;
      take(s.y[i]);
      if (!smoothing) {
        take(s.min[i]);
        take(s.max[i]);
      } else take(s.raw[i]);
    }
  }
  if (!Number.isFinite(lo)) return logY ? [1, 10] : [0, 1];
  if (logY) return [lo / 1.2, hi * 1.2];
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

function xExtent(series: PlotSeries[]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const v of s.x) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!Number.isFinite(lo)) return null;
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

function fmtX(xAxis: XAxis, v: number): string {
  if (xAxis === X_WALL) return fmtDate(v);
  if (xAxis === X_RELATIVE) return fmtDuration(v);
  return fmtNumber(v);
}

function buildData(series: PlotSeries[], smoothing: boolean): uPlot.AlignedData {
  const data: unknown[] = [null];
  for (const s of series) {
    data.push([s.x, s.max]);
    if (smoothing) data.push([s.x, s.raw]);
    data.push([s.x, s.y]);
  }
  return data as uPlot.AlignedData;
}

export function Chart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const shape = [props.xAxis, props.logY, props.smoothing, props.theme, props.height ?? 220, props.series.map((s) => s.id + s.color).join(",")].join("|");

  // (Re)create the plot when its structure changes.
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const p = latest.current;
    const text = cssVar("--muted", "#666");
    const grid = cssVar("--grid", "rgba(128,128,128,.15)");
    const facets: uPlot.Series.Facet[] = [
      { scale: "x", auto: true, sorted: 1 },
      { scale: "y", auto: true },
    ];
    const seriesOpts: uPlot.Series[] = [{}];
    p.series.forEach((s, k) => {
      seriesOpts.push({
        label: `${s.label} band`,
        facets,
        fill: withAlpha(s.color, p.smoothing ? 0.08 : 0.16),
        stroke: "transparent",
        width: 0,
        paths: bandPaths(() => latest.current.series[k]?.min),
        points: { show: false },
      } as uPlot.Series);
      if (p.smoothing)
        seriesOpts.push({ label: `${s.label} raw`, facets, stroke: withAlpha(s.color, 0.3), width: 1, points: { show: false } } as uPlot.Series);
      seriesOpts.push({ label: s.label, facets, stroke: s.color, width: 1.5, points: { show: false } } as uPlot.Series);
    });
    const width = Math.max(200, el.clientWidth);
    const opts: uPlot.Options = {
      mode: 2,
      width,
      height: p.height ?? 220,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      scales: {
        x: {
          time: p.xAxis === X_WALL,
          auto: true,
          range: (u) => {
            const cur = latest.current;
            const ext = cur.xRange ?? xExtent(cur.series);
            return ext ?? [u.scales.x.min ?? 0, u.scales.x.max ?? 1];
          },
        },
        y: {
          distr: p.logY ? 3 : 1,
          auto: true,
          range: () => {
            const cur = latest.current;
            return yRange(cur.series, cur.logY, cur.xRange, cur.smoothing);
          },
        },
      },
      axes: [
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: p.xAxis === X_WALL ? undefined : (_u, vals) => vals.map((v) => (v == null ? "" : fmtX(latest.current.xAxis, v))),
          size: 30,
        },
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (_u, vals) => vals.map((v) => (v == null ? "" : fmtNumber(v))),
          size: 52,
        },
      ],
      series: seriesOpts,
      hooks: {
        setSelect: [
          (u) => {
            const sel = u.select;
            if (sel.width > 4) {
              const x0 = u.posToVal(sel.left, "x");
              const x1 = u.posToVal(sel.left + sel.width, "x");
              latest.current.onZoom?.(Math.min(x0, x1), Math.max(x0, x1));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [(u) => showTip(u)],
      },
    };
    const u = new uPlot(opts, buildData(p.series, p.smoothing), el);
    plot.current = u;
    const over = u.over;
    const reset = () => latest.current.onResetZoom?.();
    const leave = () => {
      if (tip.current) tip.current.style.display = "none";
    };
    over.addEventListener("dblclick", reset);
    over.addEventListener("mouseleave", leave);
    const observer = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height: latest.current.height ?? 220 });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      over.removeEventListener("dblclick", reset);
      over.removeEventListener("mouseleave", leave);
      u.destroy();
      plot.current = null;
    };
  }, [shape]);

  // New data or zoom: update in place.
  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(buildData(props.series, props.smoothing), true);
  }, [props.series, props.xRange, shape]);

  // What tests (and curious users) can read: the points this chart holds.
  useEffect(() => {
    registerChart(props.id, {
      ...(props.meta ?? {}),
      xAxis: props.xAxis,
      logY: props.logY,
      smoothing: props.smoothing,
      xRange: props.xRange ?? null,
      series: props.series.map((s) => ({ id: s.id, label: s.label, color: s.color, x: s.x, y: s.y, raw: s.raw, min: s.min, max: s.max })),
    });
  }, [props.series, props.xRange, props.xAxis, props.logY, props.smoothing, props.id]);
  useEffect(() => () => unregisterChart(props.id), [props.id]);

  function showTip(u: uPlot) {
    const box = tip.current;
    if (!box) return;
    const left = u.cursor.left ?? -1;
    if (left < 0) {
      box.style.display = "none";
      return;
    }
    const p = latest.current;
    const x = u.posToVal(left, "x");
    const rows: { label: string; color: string; v: number; x: number; d: number }[] = [];
    for (const s of p.series) {
      const i = nearestIndex(s.x, x);
      if (i < 0) continue;
      const v = s.y[i];
      if (v == null) continue;
      const px = u.valToPos(s.x[i], "x");
      if (Math.abs(px - left) > 40) continue;
      rows.push({ label: s.label, color: s.color, v, x: s.x[i], d: Math.abs(px - left) });
    }
    if (!rows.length) {
      box.style.display = "none";
      return;
    }
    const nearestX = rows.reduce((a, b) => (b.d < a.d ? b : a)).x;
    rows.sort((a, b) => b.v - a.v);
    const shown = rows.slice(0, 12);
    box.replaceChildren();
    const head = document.createElement("div");
    head.className = "tip-x";
    head.textContent = `${p.xAxis === X_STEP ? "step " : ""}${fmtX(p.xAxis, nearestX)}`;
    box.appendChild(head);
    for (const r of shown) {
      const row = document.createElement("div");
      row.className = "tip-row";
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = r.color;
      const name = document.createElement("span");
      name.className = "tip-name";
      name.textContent = r.label;
      const val = document.createElement("span");
      val.className = "tip-val";
      val.textContent = fmtNumber(r.v);
      row.append(sw, name, val);
      box.appendChild(row);
    }
    if (rows.length > shown.length) {
      const more = document.createElement("div");
      more.className = "tip-more";
      more.textContent = `+${rows.length - shown.length} more`;
      box.appendChild(more);
    }
    box.style.display = "block";
    const width = u.over.clientWidth;
    box.style.left = left > width / 2 ? "" : `${left + 70}px`;
    box.style.right = left > width / 2 ? `${width - left + 10}px` : "";
  }

  return (
    <div class="chart-canvas">
      <div ref={host} class="chart-host" />
      <div ref={tip} class="chart-tip" role="status" aria-live="off" />
    </div>
  );
}
