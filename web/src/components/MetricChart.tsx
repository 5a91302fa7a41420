// A chart of one logged metric for a set of runs: fetched from the charts API when it scrolls
// into view, re-fetched when a run writes new history (live updates), and at full resolution
// for the zoomed step range.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import {
  aggregateGroup,
  stepRangeFor,
  toPlotSeries,
  X_RELATIVE,
  X_STEP,
  X_WALL,
  type ApiSeries,
  type PlotSeries,
} from "../lib/chartData";
import { runColor } from "../lib/colors";
import { isSmoothing } from "../lib/smoothing";
import { Chart } from "./Chart";
import { SettingsControls, xAxisLabel, type ChartSettings } from "./ChartSettings";

export interface ChartRun {
  id: string;
  label: string;
  color: string;
  createdAt: number;
  historyLines: number;
  running: boolean;
  /** The run's group when the workspace groups runs; undefined otherwise. */
  group?: string;
}

export const BUCKETS = 1000;
const MAX_RUNS_PER_REQUEST = 200;

interface Zoom {
  xRange: [number, number];
  steps: [number, number];
}

function useInView(ref: { current: Element | null }): boolean {
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || seen) return;
    if (typeof IntersectionObserver === "undefined") {
      setSeen(true);
      return;
    }
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setSeen(true);
    }, { rootMargin: "300px" });
    io.observe(el);
    return () => io.disconnect();
  }, [seen]);
  return seen;
}

export function MetricChart(props: {
  scope: string;
  entity: string;
  project: string;
  metric: string;
  runs: ChartRun[];
  settings: ChartSettings;
  override?: Partial<ChartSettings>;
  onOverride?: (v: Partial<ChartSettings> | null) => void;
  metrics: string[];
  theme: string;
  grouped: boolean;
}) {
  const card = useRef<HTMLDivElement>(null);
  const inView = useInView(card);
  const settings: ChartSettings = { ...props.settings, ...(props.override ?? {}) };
  const [raw, setRaw] = useState<{ byRun: Map<string, ApiSeries>; xByRun: Map<string, ApiSeries> } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [zoom, setZoom] = useState<Zoom | null>(null);
  const [editing, setEditing] = useState(false);
  const fetches = useRef(0);
  const customX = settings.xAxis !== X_STEP && settings.xAxis !== X_RELATIVE && settings.xAxis !== X_WALL ? settings.xAxis : null;

  // Refetch when a run writes history (its line count changes), the runs change, or on zoom.
  const dataKey = props.runs.map((r) => `${r.id}:${r.historyLines}`).join(",");
  useEffect(() => setZoom(null), [settings.xAxis]);
  useEffect(() => {
    if (!inView || props.runs.length === 0) {
      if (props.runs.length === 0) setRaw({ byRun: new Map(), xByRun: new Map() });
      return;
    }
    const ctrl = new AbortController();
    const ids = props.runs.map((r) => r.id);
    const keys = customX ? [props.metric, customX] : [props.metric];
    setLoading(true);
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += MAX_RUNS_PER_REQUEST) chunks.push(ids.slice(i, i + MAX_RUNS_PER_REQUEST));
    Promise.all(
      chunks.map((chunk) =>
        api.charts(
          props.entity,
          props.project,
          {
            runs: chunk,
            keys,
            buckets: BUCKETS,
            min_step: zoom ? zoom.steps[0] : undefined,
            max_step: zoom ? zoom.steps[1] + 1 : undefined,
          },
          ctrl.signal,
        ),
      ),
    )
      .then((pages) => {
        const byRun = new Map<string, ApiSeries>();
        const xByRun = new Map<string, ApiSeries>();
        for (const page of pages)
          for (const s of page.series) {
            if (s.key === props.metric) byRun.set(s.run, s);
            if (customX && s.key === customX) xByRun.set(s.run, s);
          }
        fetches.current += 1;
        setRaw({ byRun, xByRun });
        setError(null);
        setLoading(false);
      })
      .catch((e: unknown) => {
        if ((e as Error).name === "AbortError") return;
        setError(e instanceof ApiError ? e.message : String(e));
        setLoading(false);
      });
    return () => ctrl.abort();
  }, [inView, dataKey, props.metric, customX, zoom?.steps[0], zoom?.steps[1], props.entity, props.project]);

  const series: PlotSeries[] = useMemo(() => {
    if (!raw) return [];
    const perRun: (PlotSeries & { group?: string })[] = [];
    for (const run of props.runs) {
      const s = raw.byRun.get(run.id);
      if (!s) continue;
      const ps = toPlotSeries(s, run, settings.xAxis, raw.xByRun.get(run.id), settings.smoothing);
      perRun.push({ ...ps, group: run.group });
    }
    if (!props.grouped) return perRun;
    const groups = new Map<string, PlotSeries[]>();
    for (const s of perRun) {
      const g = s.group ?? "(none)";
      groups.set(g, [...(groups.get(g) ?? []), s]);
    }
    return [...groups.entries()].map(([g, members]) =>
      aggregateGroup(`group:${g}`, `${g} (${members.length})`, runColor(`group:${g}`), members),
    );
  }, [raw, props.runs, settings.xAxis, settings.smoothing.kind, settings.smoothing.value, props.grouped]);

  const onZoom = (x0: number, x1: number) => {
    const steps: [number, number] | null =
      settings.xAxis === X_STEP ? [Math.floor(x0), Math.ceil(x1)] : stepRangeFor(series, x0, x1);
    if (!steps) return;
    setZoom({ xRange: [x0, x1], steps });
  };

  const points = series.reduce((n, s) => n + s.x.length, 0);
  const overridden = props.override && Object.keys(props.override).length > 0;
  return (
    <div class="chart-card" ref={card} data-metric={props.metric} data-testid="chart">
      <div class="chart-head">
        <h4 title={props.metric}>{props.metric}</h4>
        <span class="chart-status">
          {loading && <span class="spinner" aria-label="loading" />}
          {zoom && (
            <button type="button" class="link small" onClick={() => setZoom(null)} title="Reset zoom (or double-click the chart)">
              reset zoom
            </button>
          )}
          {props.onOverride && (
            <button
              type="button"
              class={`icon small${overridden ? " active" : ""}`}
              aria-label={`Settings of chart ${props.metric}`}
              aria-expanded={editing}
              onClick={() => setEditing(!editing)}
            >
              ⚙
            </button>
          )}
        </span>
      </div>
      {editing && props.onOverride && (
        <div class="chart-settings">
          <SettingsControls value={settings} metrics={props.metrics} onChange={(v) => props.onOverride?.(v)} />
          <button type="button" class="link small" onClick={() => props.onOverride?.(null)}>
            Use workspace settings
          </button>
        </div>
      )}
      {error ? (
        <div class="chart-empty error">{error}</div>
      ) : !inView || !raw ? (
        <div class="chart-empty" style={{ height: "220px" }}>
          Loading…
        </div>
      ) : points === 0 ? (
        <div class="chart-empty" style={{ height: "220px" }}>
          No data{props.runs.length === 0 ? ": no visible runs" : ` for ${settings.xAxis === X_STEP ? "these runs" : xAxisLabel(settings.xAxis)}`}
        </div>
      ) : (
        <Chart
          id={`${props.scope}:${props.metric}`}
          series={series}
          xAxis={settings.xAxis}
          logY={settings.logY}
          smoothing={isSmoothing(settings.smoothing)}
          theme={props.theme}
          xRange={zoom?.xRange ?? null}
          onZoom={onZoom}
          onResetZoom={() => setZoom(null)}
          meta={{ key: props.metric, fetches: fetches.current, steps: zoom?.steps ?? null, grouped: props.grouped, smoothingKind: settings.smoothing.kind, smoothingValue: settings.smoothing.value }}
        />
      )}
      <div class="chart-foot">{xAxisLabel(settings.xAxis)}</div>
    </div>
  );
}
