// Formatting of times, durations, sizes and values for tables and axes.

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

export function fmtAgo(epoch: number | null | undefined, now = Date.now() / 1000): string {
  if (epoch == null || !Number.isFinite(epoch)) return "–";
  const d = now - epoch;
  if (d < 45) return "just now";
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  if (d < 86400 * 30) return `${Math.round(d / 86400)} days ago`;
  return fmtDate(epoch);
}

export function fmtDate(epoch: number | null | undefined): string {
  if (epoch == null || !Number.isFinite(epoch)) return "–";
  const d = new Date(epoch * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n == null) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A value for a table cell or a legend: numbers with up to 5 significant digits. */
export function fmtValue(v: unknown): string {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return fmtNumber(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export function fmtNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

/** Flatten nested objects to dotted paths (for config and summary tables). */
export function flatten(value: unknown, prefix = "", out: [string, unknown][] = [], depth = 0): [string, unknown][] {
  if (value && typeof value === "object" && !Array.isArray(value) && depth < 8) {
    const obj = value as Record<string, unknown>;
    if ("_type" in obj && prefix) {
      out.push([prefix, `(${String(obj._type)})`]);
      return out;
    }
    const keys = Object.keys(obj);
    if (keys.length === 0 && prefix) out.push([prefix, {}]);
    for (const k of keys) flatten(obj[k], prefix ? `${prefix}.${k}` : k, out, depth + 1);
    return out;
  }
  out.push([prefix, value]);
  return out;
}
