// Smoothing of a chart line, as W&B offers it. Inputs are parallel arrays; y may hold null
// (no finite value in that bucket): nulls stay null and do not move the smoothed value.

export type SmoothingKind = "none" | "ema" | "twema" | "gaussian" | "average";

export interface Smoothing {
  kind: SmoothingKind;
  /** ema / twema: weight in [0, 1); gaussian: std dev in points; average: window in points. */
  value: number;
}

export const SMOOTHING_LABELS: Record<SmoothingKind, string> = {
  none: "No smoothing",
  ema: "Exponential moving average",
  twema: "Time-weighted EMA",
  gaussian: "Gaussian",
  average: "Running average",
};

/** The parameter's range and default for a kind. */
export function smoothingRange(kind: SmoothingKind): { min: number; max: number; step: number; def: number } {
  switch (kind) {
    case "ema":
    case "twema":
      return { min: 0, max: 0.99, step: 0.01, def: 0.6 };
    case "gaussian":
      return { min: 0, max: 50, step: 0.5, def: 4 };
    case "average":
      return { min: 1, max: 100, step: 1, def: 10 };
    default:
      return { min: 0, max: 0, step: 1, def: 0 };
  }
}

type Ys = ArrayLike<number | null>;

function finite(v: number | null | undefined): v is number {
  return v != null && Number.isFinite(v);
}

/** Debiased exponential moving average (TensorBoard / W&B): the first point is not pulled
 * towards 0. weight 0 returns the input. */
export function ema(ys: Ys, weight: number): (number | null)[] {
  const w = clamp(weight, 0, 0.999);
  const out: (number | null)[] = new Array(ys.length);
  let last = 0;
  let debias = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!finite(y)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * y;
    debias = debias * w + (1 - w);
    out[i] = last / debias;
  }
  return out;
}

/** EMA whose decay follows the gaps between x values: with evenly spaced points it equals
 * ema(); a point after a long gap forgets more of the past. */
export function timeWeightedEma(xs: ArrayLike<number>, ys: Ys, weight: number): (number | null)[] {
  const w = clamp(weight, 0, 0.999);
  const out: (number | null)[] = new Array(ys.length);
  const idx: number[] = [];
  for (let i = 0; i < ys.length; i++) if (finite(ys[i]) && Number.isFinite(xs[i])) idx.push(i);
  for (let i = 0; i < ys.length; i++) out[i] = null;
  if (idx.length === 0) return out;
  const span = xs[idx[idx.length - 1]] - xs[idx[0]];
  const avgGap = idx.length > 1 && span > 0 ? span / (idx.length - 1) : 1;
  let last = 0;
  let debias = 0;
  let prevX = xs[idx[0]];
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    // The first point counts as one average gap, as in ema(); a repeated x as a small one.
    const gap = k === 0 ? 1 : Math.max(Math.abs(xs[i] - prevX) / avgGap, 0.05);
    const decay = Math.pow(w, gap);
    const y = ys[i] as number;
    last = last * decay + (1 - decay) * y;
    debias = debias * decay + (1 - decay);
    out[i] = debias > 0 ? last / debias : y;
    prevX = xs[i];
  }
  return out;
}

/** Gaussian kernel smoothing over neighbouring points; sigma in points (0: unchanged). */
export function gaussian(ys: Ys, sigma: number): (number | null)[] {
  const out: (number | null)[] = new Array(ys.length);
  if (!(sigma > 0)) {
    for (let i = 0; i < ys.length; i++) out[i] = finite(ys[i]) ? (ys[i] as number) : null;
    return out;
  }
  const radius = Math.ceil(3 * sigma);
  const kernel: number[] = [];
  for (let d = 0; d <= radius; d++) kernel.push(Math.exp(-(d * d) / (2 * sigma * sigma)));
  for (let i = 0; i < ys.length; i++) {
    if (!finite(ys[i])) {
      out[i] = null;
      continue;
    }
    let sum = 0;
    let total = 0;
    const lo = Math.max(0, i - radius);
    const hi = Math.min(ys.length - 1, i + radius);
    for (let j = lo; j <= hi; j++) {
      const y = ys[j];
      if (!finite(y)) continue;
      const k = kernel[Math.abs(j - i)];
      sum += k * y;
      total += k;
    }
    out[i] = sum / total;
  }
  return out;
}

/** Mean of the point and the (window - 1) finite points before it. */
export function runningAverage(ys: Ys, window: number): (number | null)[] {
  const size = Math.max(1, Math.round(window));
  const out: (number | null)[] = new Array(ys.length);
  const buffer: number[] = [];
  let sum = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!finite(y)) {
      out[i] = null;
      continue;
    }
    buffer.push(y);
    sum += y;
    if (buffer.length > size) sum -= buffer.shift() as number;
    out[i] = sum / buffer.length;
  }
  return out;
}

export function smooth(xs: ArrayLike<number>, ys: Ys, s: Smoothing): (number | null)[] {
  switch (s.kind) {
    case "ema":
      return ema(ys, s.value);
    case "twema":
      return timeWeightedEma(xs, ys, s.value);
    case "gaussian":
      return gaussian(ys, s.value);
    case "average":
      return runningAverage(ys, s.value);
    default:
      return Array.from(ys, (y) => (finite(y) ? y : null));
  }
}

export function isSmoothing(s: Smoothing): boolean {
  if (s.kind === "none") return false;
  if (s.kind === "average") return Math.round(s.value) > 1;
  return s.value > 0;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Number.isFinite(v) ? v : lo));
}
