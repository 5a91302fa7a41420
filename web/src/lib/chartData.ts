// From the charts API's exact buckets to the arrays a chart draws, per run: x (by the chosen
// x-axis), the line (mean of each bucket), its min/max band, and the smoothed line.

import { toNumber } from "./json";
import { smooth, isSmoothing, type Smoothing } from "./smoothing";

export interface ApiSeries {
  run: string;
  key: string;
  step: number[];
  last_step: number[];
  time: number[];
  min: (number | null)[];
  max: (number | null)[];
  mean: (number | null)[];
  first: (number | string)[];
  last: (number | string)[];
  count: number[];
}

/** "_step", "_relative" (seconds since the run started), "_wall" (epoch s) or a metric key. */
export type XAxis = string;

export const X_STEP = "_step";
export const X_RELATIVE = "_relative";
export const X_WALL = "_wall";

export interface PlotSeries {
  id: string; // run id, or "group:<value>"
  label: string;
  color: string;
  x: number[];
  /** The line as logged (bucket mean), null where a bucket has no finite value. */
  raw: (number | null)[];
  /** What is drawn: raw, or smoothed when smoothing is on. */
  y: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
  /** Bucket step range, for zooming from any x-axis back to steps. */
  steps: [number, number][];
}

export interface RunInfo {
  id: string;
  label: string;
  color: string;
  createdAt: number; // epoch s
}

function finiteOrNull(v: number | null | undefined): number | null {
  return v != null && Number.isFinite(v) ? v : null;
}

/** The value of a bucket's line: its mean; a single non-finite point gives null. */
function lineValue(s: ApiSeries, i: number): number | null {
  const m = finiteOrNull(s.mean[i]);
  if (m !== null) return m;
  return finiteOrNull(toNumber(s.last[i]));
}

/**
 * One run's series on an x-axis. For a metric x-axis, ``xSeries`` is that metric's series of
 * the same run: each bucket takes the x metric's last value in the bucket with the same step
 * (points without one are dropped), sorted by x.
 */
export function toPlotSeries(
  s: ApiSeries,
  run: RunInfo,
  xAxis: XAxis,
  xSeries?: ApiSeries,
  smoothing?: Smoothing,
): PlotSeries {
  const n = s.step.length;
  let rows: { x: number; y: number | null; lo: number | null; hi: number | null; st: [number, number] }[] = [];
  let xByStep: Map<number, number> | null = null;
  if (xAxis !== X_STEP && xAxis !== X_RELATIVE && xAxis !== X_WALL) {
    xByStep = new Map();
    if (xSeries) {
      for (let i = 0; i < xSeries.step.length; i++) {
        const v = finiteOrNull(toNumber(xSeries.last[i]));
        if (v !== null) xByStep.set(xSeries.step[i], v);
      }
    }
  }
  for (let i = 0; i < n; i++) {
    let x: number | undefined;
    if (xAxis === X_STEP) x = s.step[i] === s.last_step[i] ? s.step[i] : (s.step[i] + s.last_step[i]) / 2;
    else if (xAxis === X_WALL) x = s.time[i];
    else if (xAxis === X_RELATIVE) x = s.time[i] - run.createdAt;
    else x = xByStep?.get(s.step[i]);
    if (x === undefined || !Number.isFinite(x)) continue;
    rows.push({ x, y: lineValue(s, i), lo: finiteOrNull(s.min[i]), hi: finiteOrNull(s.max[i]), st: [s.step[i], s.last_step[i]] });
  }
  if (xByStep) rows = rows.sort((a, b) => a.x - b.x);
  const x = rows.map((r) => r.x);
  const raw = rows.map((r) => r.y);
  const y = smoothing && isSmoothing(smoothing) ? smooth(x, raw, smoothing) : raw;
  return {
    id: run.id,
    label: run.label,
    color: run.color,
    x,
    raw,
    y,
    min: rows.map((r) => r.lo),
    max: rows.map((r) => r.hi),
    steps: rows.map((r) => r.st),
  };
}

/** Values of ``ys`` (sorted by ``xs``) at ``at``, linearly interpolated; null outside. */
export function interpolate(xs: number[], ys: (number | null)[], at: number[]): (number | null)[] {
  const px: number[] = [];
  const py: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y != null && Number.isFinite(y)) {
      px.push(xs[i]);
      py.push(y);
    }
  }
  const out: (number | null)[] = [];
  let j = 0;
  for (const a of at) {
    if (px.length === 0 || a < px[0] || a > px[px.length - 1]) {
      out.push(null);
      continue;
    }
    while (j < px.length - 1 && px[j + 1] < a) j++;
    while (j > 0 && px[j] > a) j--;
    if (px[j] === a || j === px.length - 1) {
      out.push(py[j]);
      continue;
    }
    const t = (a - px[j]) / (px[j + 1] - px[j]);
    out.push(py[j] + t * (py[j + 1] - py[j]));
  }
  return out;
}

/**
 * Groups of runs as one series each: at ``points`` evenly spaced x positions over the runs'
 * common span, the mean of the runs' lines (interpolated), and the min and max across runs
 * as the band.
 */
export function aggregateGroup(id: string, label: string, color: string, members: PlotSeries[], points = 400): PlotSeries {
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of members) {
    if (m.x.length) {
      lo = Math.min(lo, m.x[0]);
      hi = Math.max(hi, m.x[m.x.length - 1]);
    }
  }
  const empty: PlotSeries = { id, label, color, x: [], raw: [], y: [], min: [], max: [], steps: [] };
  if (!Number.isFinite(lo)) return empty;
  const distinct = new Set<number>();
  for (const m of members) for (const v of m.x) distinct.add(v);
  let grid: number[];
  if (distinct.size <= points) grid = [...distinct].sort((a, b) => a - b);
  else {
    grid = [];
    for (let i = 0; i < points; i++) grid.push(lo + ((hi - lo) * i) / (points - 1));
  }
  const columns = members.map((m) => interpolate(m.x, m.y, grid));
  const raws = members.map((m) => interpolate(m.x, m.raw, grid));
  const mean: (number | null)[] = [];
  const rawMean: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  for (let i = 0; i < grid.length; i++) {
    let sum = 0;
    let rawSum = 0;
    let count = 0;
    let rawCount = 0;
    let a = Infinity;
    let b = -Infinity;
    for (let k = 0; k < columns.length; k++) {
      const v = columns[k][i];
      if (v != null) {
        sum += v;
        count++;
        a = Math.min(a, v);
        b = Math.max(b, v);
      }
      const r = raws[k][i];
      if (r != null) {
        rawSum += r;
        rawCount++;
      }
    }
    mean.push(count ? sum / count : null);
    rawMean.push(rawCount ? rawSum / rawCount : null);
    min.push(count ? a : null);
    max.push(count ? b : null);
  }
  const steps: [number, number][] = grid.map((g) => [Math.floor(g), Math.ceil(g)]);
  return { id, label, color, x: grid, raw: rawMean, y: mean, min, max, steps };
}

/** Index of the x value nearest ``at`` in sorted ``xs`` (-1 when empty). */
export function nearestIndex(xs: number[], at: number): number {
  if (!xs.length) return -1;
  let lo = 0;
  let hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < at) lo = mid;
    else hi = mid;
  }
  return Math.abs(xs[lo] - at) <= Math.abs(xs[hi] - at) ? lo : hi;
}

/** The step range [min, max] covered by the points whose x lies in [x0, x1]. */
export function stepRangeFor(series: PlotSeries[], x0: number, x1: number): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.x.length; i++) {
      if (s.x[i] >= x0 && s.x[i] <= x1) {
        lo = Math.min(lo, s.steps[i][0]);
        hi = Math.max(hi, s.steps[i][1]);
      }
    }
  }
  return Number.isFinite(lo) ? [lo, hi] : null;
}

/** Sections of chart keys by prefix ("train/loss" -> "train"); keys without one -> "Charts". */
export function sectionsOf(keys: string[]): [string, string[]][] {
  const map = new Map<string, string[]>();
  for (const k of keys) {
    const cut = k.indexOf("/");
    const name = cut > 0 ? k.slice(0, cut) : "Charts";
    const list = map.get(name) ?? [];
    list.push(k);
    map.set(name, list);
  }
  return [...map.entries()].sort((a, b) =>
    a[0] === "Charts" ? -1 : b[0] === "Charts" ? 1 : a[0].localeCompare(b[0]),
  );
}
