// Chart settings: smoothing (kind and amount), x-axis and log scale. Used for the whole
// workspace and, as overrides, for one chart.

import { SMOOTHING_LABELS, smoothingRange, type Smoothing, type SmoothingKind } from "../lib/smoothing";
import { X_RELATIVE, X_STEP, X_WALL, type XAxis } from "../lib/chartData";

export interface ChartSettings {
  smoothing: Smoothing;
  xAxis: XAxis;
  logY: boolean;
}

export const DEFAULT_SETTINGS: ChartSettings = {
  smoothing: { kind: "none", value: 0 },
  xAxis: X_STEP,
  logY: false,
};

export function xAxisLabel(x: XAxis): string {
  if (x === X_STEP) return "Step";
  if (x === X_RELATIVE) return "Relative time";
  if (x === X_WALL) return "Wall time";
  return x;
}

let uid = 0;

export function SettingsControls(props: {
  value: ChartSettings;
  onChange: (v: ChartSettings) => void;
  metrics: string[];
  idPrefix?: string;
  /** Leave out the x-axis choice (the caller has its own). */
  noXAxis?: boolean;
}) {
  const { value, onChange } = props;
  const id = props.idPrefix ?? `cs${++uid}`;
  const range = smoothingRange(value.smoothing.kind);
  const setKind = (kind: SmoothingKind) =>
    onChange({ ...value, smoothing: { kind, value: smoothingRange(kind).def } });
  const setAmount = (v: number) => {
    if (Number.isFinite(v)) onChange({ ...value, smoothing: { ...value.smoothing, value: Math.min(range.max, Math.max(range.min, v)) } });
  };
  const amountLabel = value.smoothing.kind === "gaussian" ? "Std dev (points)" : value.smoothing.kind === "average" ? "Window (points)" : "Weight";
  return (
    <div class="settings-row">
      <label for={`${id}-smooth`}>Smoothing</label>
      <select id={`${id}-smooth`} data-testid="smoothing-kind" value={value.smoothing.kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as SmoothingKind)}>
        {(Object.keys(SMOOTHING_LABELS) as SmoothingKind[]).map((k) => (
          <option value={k}>{SMOOTHING_LABELS[k]}</option>
        ))}
      </select>
      {value.smoothing.kind !== "none" && (
        <>
          <input
            type="range"
            aria-label={amountLabel}
            min={range.min}
            max={range.max}
            step={range.step}
            value={value.smoothing.value}
            onInput={(e) => setAmount(Number((e.target as HTMLInputElement).value))}
          />
          <input
            type="number"
            class="narrow"
            aria-label={amountLabel}
            data-testid="smoothing-value"
            min={range.min}
            max={range.max}
            step={range.step}
            value={value.smoothing.value}
            onChange={(e) => setAmount(Number((e.target as HTMLInputElement).value))}
          />
        </>
      )}
      {!props.noXAxis && <label for={`${id}-x`}>X-axis</label>}
      {!props.noXAxis && (
      <select id={`${id}-x`} data-testid="x-axis" value={value.xAxis} onChange={(e) => onChange({ ...value, xAxis: (e.target as HTMLSelectElement).value })}>
        <option value={X_STEP}>Step</option>
        <option value={X_RELATIVE}>Relative time</option>
        <option value={X_WALL}>Wall time</option>
        {props.metrics.length > 0 && (
          <optgroup label="Metric">
            {props.metrics.map((m) => (
              <option value={m}>{m}</option>
            ))}
          </optgroup>
        )}
      </select>
      )}
      <label class="check">
        <input type="checkbox" data-testid="log-y" checked={value.logY} onChange={(e) => onChange({ ...value, logY: (e.target as HTMLInputElement).checked })} />
        Log scale
      </label>
    </div>
  );
}
