// window.__runyard: what the page holds, readable from the browser console and by tests
// (the points each chart draws, not only that a canvas exists).

export interface ChartSnapshot {
  xAxis: string;
  logY: boolean;
  smoothing: boolean;
  xRange: [number, number] | null;
  series: { id: string; label: string; color: string; x: number[]; y: (number | null)[]; raw: (number | null)[]; min: (number | null)[]; max: (number | null)[] }[];
  [k: string]: unknown;
}

interface Hook {
  charts: Record<string, ChartSnapshot & { version: number }>;
  version: number;
}

declare global {
  interface Window {
    __runyard?: Hook;
  }
}

function hook(): Hook {
  if (!window.__runyard) window.__runyard = { charts: {}, version: 0 };
  return window.__runyard;
}

export function registerChart(id: string, snapshot: ChartSnapshot): void {
  const h = hook();
  h.version += 1;
  h.charts[id] = { ...snapshot, version: h.version };
}

export function unregisterChart(id: string): void {
  delete hook().charts[id];
}
