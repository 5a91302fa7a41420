// One run: overview (editable name, tags and notes), charts, system metrics, console log and
// files.

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError, type FileItem, type RunDetail, type WorkspaceRun } from "../api";
import { Chart } from "../components/Chart";
import { DEFAULT_SETTINGS, SettingsControls, type ChartSettings } from "../components/ChartSettings";
import { ConsoleLog } from "../components/ConsoleLog";
import { MetricChart, type ChartRun } from "../components/MetricChart";
import { sectionsOf, X_RELATIVE, X_WALL, type PlotSeries } from "../lib/chartData";
import { PALETTE, runColor } from "../lib/colors";
import { fmtBytes, fmtDate, fmtDuration, fmtValue, flatten } from "../lib/format";
import { isSmoothing, smooth } from "../lib/smoothing";
import { paths, RUN_TABS, type Route } from "../router";
import { usePersistent } from "../theme";
import { StateBadge } from "./Workspace";
import { RunArtifacts } from "./Artifacts";

const POLL_MS = 3000;
const TAB_LABELS: Record<string, string> = { overview: "Overview", charts: "Charts", system: "System", logs: "Logs", files: "Files", artifacts: "Artifacts" };

type RunRoute = Extract<Route, { page: "run" }>;

export function RunPage(props: { route: RunRoute; theme: string }) {
  const { entity, project, run, tab } = props.route;
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [row, setRow] = useState<WorkspaceRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const running = detail?.state === "running";

  useEffect(() => {
    let stopped = false;
    api
      .run(entity, project, run)
      .then((d) => {
        if (!stopped) {
          setDetail(d);
          setError(null);
        }
      })
      .catch((e: unknown) => !stopped && setError(e instanceof ApiError ? e.message : String(e)));
    api
      .runs(entity, project, { filter: `id = ${JSON.stringify(run)}`, limit: 1, count: false })
      .then((p) => !stopped && setRow(p.items[0] ?? null))
      .catch(() => undefined);
    return () => {
      stopped = true;
    };
  }, [entity, project, run, tick]);

  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => document.visibilityState === "visible" && setTick((n) => n + 1), POLL_MS);
    return () => clearInterval(t);
  }, [running]);

  if (error)
    return (
      <div class="page">
        <div class="alert" role="alert">
          {error}
        </div>
      </div>
    );
  if (!detail) return <div class="page muted">Loading run…</div>;
  return (
    <div class="page run-page">
      <div class="page-head">
        <span class="swatch big" style={{ background: runColor(detail.id) }} />
        <h1 data-testid="run-title">{detail.display_name}</h1>
        <StateBadge state={detail.state} />
        <span class="muted mono">{detail.id}</span>
        <span class="spacer" />
        {running && <StopButton detail={detail} onDone={() => setTick((n) => n + 1)} />}
      </div>
      <nav class="tabs" aria-label="Run sections">
        {RUN_TABS.map((t) => (
          <a key={t} href={paths.run(entity, project, run, t)} class={t === tab ? "tab active" : "tab"} aria-current={t === tab ? "page" : undefined}>
            {TAB_LABELS[t]}
          </a>
        ))}
      </nav>
      {tab === "overview" && <Overview detail={detail} row={row} onSaved={setDetail} />}
      {tab === "charts" && <RunCharts detail={detail} theme={props.theme} />}
      {tab === "system" && <SystemMetrics detail={detail} theme={props.theme} tick={tick} />}
      {tab === "logs" && <ConsoleLog entity={entity} project={project} run={run} running={running} />}
      {tab === "files" && <Files detail={detail} />}
      {tab === "artifacts" && <RunArtifacts entity={entity} project={project} run={run} />}
    </div>
  );
}

function StopButton(props: { detail: RunDetail; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  if (props.detail.stop_requested || msg) return <span class="muted small">{msg ?? "Stop requested"}</span>;
  return (
    <button
      type="button"
      class="danger"
      disabled={busy}
      onClick={async () => {
        if (!confirm(`Stop run ${props.detail.display_name}? Its client stops at its next sync.`)) return;
        setBusy(true);
        try {
          await api.stopRun(props.detail.entity, props.detail.project, props.detail.id);
          setMsg("Stop requested");
          props.onDone();
        } catch (e) {
          setMsg(e instanceof Error ? e.message : String(e));
        } finally {
          setBusy(false);
        }
      }}
    >
      Stop run
    </button>
  );
}

// overview -------------------------------------------------------------------------------------
interface Metadata {
  os?: string;
  python?: string;
  host?: string;
  program?: string;
  codePath?: string;
  args?: string[];
  executable?: string;
  git?: { remote?: string; commit?: string };
  cpu_count?: number;
  gpu?: string;
  gpu_count?: number;
  startedAt?: string;
}

function useMetadata(detail: RunDetail): Metadata | null {
  const [meta, setMeta] = useState<Metadata | null>(null);
  useEffect(() => {
    let stopped = false;
    api
      .files(detail.entity, detail.project, detail.id)
      .then(async (page) => {
        const file = page.items.find((f) => f.name === "wandb-metadata.json" && f.uploaded);
        if (!file) return;
        const response = await fetch(file.url);
        if (response.ok && !stopped) setMeta((await response.json()) as Metadata);
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
    };
  }, [detail.entity, detail.project, detail.id]);
  return meta;
}

function commandOf(detail: RunDetail, meta: Metadata | null): string {
  const program = meta?.codePath || meta?.program || detail.program;
  if (!program) return "–";
  const args = (meta?.args ?? []).map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(" ");
  return `python ${program}${args ? " " + args : ""}`;
}

function Overview(props: { detail: RunDetail; row: WorkspaceRun | null; onSaved: (d: RunDetail) => void }) {
  const { detail, row } = props;
  const meta = useMetadata(detail);
  const runtime = row?.runtime ?? ((detail.finished_at ?? detail.heartbeat_at) - detail.created_at);
  const info: [string, ComponentChildren][] = [
    ["State", <StateBadge state={detail.state} />],
    ["Exit code", detail.exit_code ?? "–"],
    ["Created", fmtDate(detail.created_at)],
    ["Duration", fmtDuration(runtime)],
    ["Last step", detail.last_step ?? "–"],
    ["User", row?.user ?? "–"],
    ["Host", meta?.host ?? detail.host ?? "–"],
    ["Command", <code class="wrap">{commandOf(detail, meta)}</code>],
    ["Git commit", detail.commit || meta?.git?.commit ? <code>{detail.commit || meta?.git?.commit}</code> : "–"],
    ["Git remote", meta?.git?.remote ?? "–"],
    ["Python", meta?.python ?? (detail.metadata?.python_version as string | undefined) ?? "–"],
    ["OS", meta?.os ?? "–"],
    ["wandb", (detail.metadata?.cli_version as string | undefined) ?? "–"],
    ["Group", detail.group ?? "–"],
    ["Job type", detail.job_type ?? "–"],
  ];
  if (meta?.gpu) info.push(["GPU", `${meta.gpu_count ?? 1} × ${meta.gpu}`]);
  if (meta?.cpu_count) info.push(["CPUs", meta.cpu_count]);
  return (
    <div class="overview">
      <div class="overview-main">
        <section class="card">
          <h2>Run</h2>
          <RunEditor detail={detail} onSaved={props.onSaved} />
          <table class="kv" data-testid="overview">
            <tbody>
              {info.map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <div class="overview-side">
        <KeyValues title="Config" data={detail.config ?? {}} testid="config" />
        <KeyValues title="Summary" data={Object.fromEntries(Object.entries(detail.summary ?? {}).filter(([k]) => k !== "_wandb"))} testid="summary" />
      </div>
    </div>
  );
}

function RunEditor(props: { detail: RunDetail; onSaved: (d: RunDetail) => void }) {
  const { detail } = props;
  const [name, setName] = useState(detail.display_name);
  const [tags, setTags] = useState<string[]>(detail.tags);
  const [newTag, setNewTag] = useState("");
  const [notes, setNotes] = useState(detail.notes ?? "");
  const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const dirty = name !== detail.display_name || notes !== (detail.notes ?? "") || tags.join("\n") !== detail.tags.join("\n");

  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    setStatus(null);
    try {
      const pending = newTag.trim() ? [...tags, newTag.trim()] : tags;
      const saved = await api.editRun(detail.entity, detail.project, detail.id, { display_name: name.trim(), tags: pending, notes });
      setTags(saved.tags);
      setNewTag("");
      setName(saved.display_name);
      setNotes(saved.notes ?? "");
      props.onSaved(saved);
      setStatus({ ok: true, text: "Saved" });
    } catch (err) {
      setStatus({ ok: false, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="run-editor" onSubmit={save} aria-label="Edit run">
      <label for="run-name">Display name</label>
      <input id="run-name" data-testid="edit-name" value={name} required maxLength={255} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      <span class="label" id="tags-label">
        Tags
      </span>
      <div class="tag-editor" role="group" aria-labelledby="tags-label">
        {tags.map((t) => (
          <span class="tag" key={t}>
            {t}
            <button type="button" class="tag-x" aria-label={`Remove tag ${t}`} onClick={() => setTags(tags.filter((x) => x !== t))}>
              ×
            </button>
          </span>
        ))}
        <input
          data-testid="edit-tag"
          aria-label="Add a tag"
          placeholder="add tag ⏎"
          value={newTag}
          onInput={(e) => setNewTag((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              const t = newTag.trim();
              if (t && !tags.includes(t)) setTags([...tags, t]);
              setNewTag("");
            }
          }}
        />
      </div>
      <label for="run-notes">Notes</label>
      <textarea id="run-notes" data-testid="edit-notes" rows={3} value={notes} onInput={(e) => setNotes((e.target as HTMLTextAreaElement).value)} />
      <div class="form-actions">
        <button type="submit" class="primary" data-testid="save-run" disabled={busy || (!dirty && !newTag.trim())}>
          {busy ? "Saving…" : "Save"}
        </button>
        {status && (
          <span class={status.ok ? "ok" : "alert inline"} role={status.ok ? "status" : "alert"} data-testid="save-status">
            {status.text}
          </span>
        )}
      </div>
    </form>
  );
}

function KeyValues(props: { title: string; data: Record<string, unknown>; testid: string }) {
  const [find, setFind] = useState("");
  const rows = useMemo(() => flatten(props.data).filter(([k]) => k), [props.data]);
  const needle = find.trim().toLowerCase();
  const shown = needle ? rows.filter(([k, v]) => k.toLowerCase().includes(needle) || fmtValue(v).toLowerCase().includes(needle)) : rows;
  return (
    <section class="card">
      <div class="card-head">
        <h2>{props.title}</h2>
        <input type="search" aria-label={`Find in ${props.title.toLowerCase()}`} placeholder="Find" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} />
      </div>
      {rows.length === 0 ? (
        <p class="muted">Empty.</p>
      ) : (
        <table class="kv" data-testid={props.testid}>
          <tbody>
            {shown.map(([k, v]) => (
              <tr key={k}>
                <th scope="row" class="mono">
                  {k}
                </th>
                <td class="mono">{fmtValue(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

// charts ---------------------------------------------------------------------------------------
function numericKeys(detail: RunDetail): string[] {
  const out: string[] = [];
  for (const [k, counts] of Object.entries(detail.history_keys ?? {})) {
    if (k.startsWith("_")) continue;
    if (Object.keys(counts).some((t) => ["number", "int", "float", "nan", "inf", "-inf", "bool"].includes(t.toLowerCase()))) out.push(k);
  }
  return out.sort();
}

function RunCharts(props: { detail: RunDetail; theme: string }) {
  const { detail } = props;
  const [settings, setSettings] = usePersistent<ChartSettings>("runyard.runcharts", DEFAULT_SETTINGS);
  const keys = numericKeys(detail);
  const runs: ChartRun[] = useMemo(
    () => [
      {
        id: detail.id,
        label: detail.display_name,
        color: runColor(detail.id),
        createdAt: detail.created_at,
        historyLines: detail.history_line_count,
        running: detail.state === "running",
      },
    ],
    [detail.id, detail.display_name, detail.history_line_count, detail.state],
  );
  return (
    <div>
      <div class="charts-toolbar card">
        <SettingsControls idPrefix="run" value={settings} metrics={keys} onChange={setSettings} />
      </div>
      {keys.length === 0 && <p class="muted">This run has logged no metrics.</p>}
      {sectionsOf(keys).map(([name, list]) => (
        <div class="chart-section" key={name}>
          <h3>{name}</h3>
          <div class="chart-grid">
            {list.map((k) => (
              <MetricChart key={k} scope="run" entity={detail.entity} project={detail.project} metric={k} runs={runs} settings={settings} metrics={keys} theme={props.theme} grouped={false} />
            ))}
          </div>
        </div>
      ))}
    </div>
  );
}

// system metrics -------------------------------------------------------------------------------
const SYSTEM_SECTIONS: [RegExp, string][] = [
  [/^system\.gpu\./, "GPU"],
  [/^system\.(cpu|proc\.cpu)/, "CPU"],
  [/^system\.(memory|proc\.memory)/, "Memory"],
  [/^system\.disk/, "Disk"],
  [/^system\.network/, "Network"],
];

function systemSection(key: string): string {
  for (const [re, name] of SYSTEM_SECTIONS) if (re.test(key)) return name;
  return "Other";
}

function SystemMetrics(props: { detail: RunDetail; theme: string; tick: number }) {
  const { detail } = props;
  const [rows, setRows] = useState<Record<string, unknown>[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [xAxis, setXAxis] = useState(X_RELATIVE);
  const [settings, setSettings] = usePersistent<ChartSettings>("runyard.syscharts", { ...DEFAULT_SETTINGS, xAxis: X_RELATIVE });

  useEffect(() => {
    let stopped = false;
    (async () => {
      const all: Record<string, unknown>[] = [];
      let offset: number | null = 0;
      while (offset != null && all.length < 200_000) {
        const page = await api.systemMetrics(detail.entity, detail.project, detail.id, offset);
        all.push(...page.rows);
        offset = page.next_offset;
      }
      if (!stopped) setRows(all);
    })().catch((e: unknown) => !stopped && setError(e instanceof ApiError ? e.message : String(e)));
    return () => {
      stopped = true;
    };
  }, [detail.id, detail.events_line_count]);

  const charts = useMemo(() => {
    if (!rows) return [];
    const keys = new Set<string>();
    for (const r of rows) for (const k of Object.keys(r)) if (!k.startsWith("_") && typeof r[k] === "number") keys.add(k);
    const x = rows.map((r) => (xAxis === X_WALL ? Number(r._timestamp) : Number(r._runtime)));
    return [...keys].sort().map((k, i) => {
      const xs: number[] = [];
      const ys: (number | null)[] = [];
      rows.forEach((r, j) => {
        const v = r[k];
        if (typeof v === "number" && Number.isFinite(x[j])) {
          xs.push(x[j]);
          ys.push(Number.isFinite(v) ? v : null);
        }
      });
      const order = xs.map((_, j) => j).sort((a, b) => xs[a] - xs[b]);
      const sx = order.map((j) => xs[j]);
      const sy = order.map((j) => ys[j]);
      const y = isSmoothing(settings.smoothing) ? smooth(sx, sy, settings.smoothing) : sy;
      const series: PlotSeries = { id: k, label: k.replace(/^system\./, ""), color: PALETTE[i % PALETTE.length], x: sx, raw: sy, y, min: sy, max: sy, steps: sx.map(() => [0, 0]) };
      return { key: k, section: systemSection(k), series };
    });
  }, [rows, xAxis, settings.smoothing.kind, settings.smoothing.value]);

  if (error)
    return (
      <div class="alert" role="alert">
        {error}
      </div>
    );
  if (!rows) return <p class="muted">Loading system metrics…</p>;
  if (charts.length === 0) return <p class="muted">No system metrics were recorded for this run.</p>;
  const sections = [...new Set(charts.map((c) => c.section))];
  return (
    <div>
      <div class="charts-toolbar card">
        <div class="settings-row">
          <label for="sys-x">X-axis</label>
          <select id="sys-x" value={xAxis} onChange={(e) => setXAxis((e.target as HTMLSelectElement).value)}>
            <option value={X_RELATIVE}>Relative time</option>
            <option value={X_WALL}>Wall time</option>
          </select>
          <SettingsControls idPrefix="sys" noXAxis value={{ ...settings, xAxis }} metrics={[]} onChange={(v) => setSettings({ ...v, xAxis: X_RELATIVE })} />
          <span class="muted small">{rows.length} samples</span>
        </div>
      </div>
      {sections.map((name) => (
        <div class="chart-section" key={name}>
          <h3>{name}</h3>
          <div class="chart-grid">
            {charts
              .filter((c) => c.section === name)
              .map((c) => (
                <div class="chart-card" key={c.key} data-metric={c.key}>
                  <div class="chart-head">
                    <h4 title={c.key}>{c.series.label}</h4>
                  </div>
                  <Chart id={`system:${c.key}`} series={[c.series]} xAxis={xAxis} logY={settings.logY} smoothing={isSmoothing(settings.smoothing)} theme={props.theme} />
                </div>
              ))}
          </div>
        </div>
      ))}
    </div>
  );
}

// files ------------------------------------------------------------------------------------------
function Files(props: { detail: RunDetail }) {
  const { detail } = props;
  const [files, setFiles] = useState<FileItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [find, setFind] = useState("");
  useEffect(() => {
    (async () => {
      const all: FileItem[] = [];
      let offset: number | null = 0;
      while (offset != null) {
        const page = await api.files(detail.entity, detail.project, detail.id, offset);
        all.push(...page.items);
        offset = page.next_offset;
      }
      setFiles(all);
    })().catch((e: unknown) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [detail.id, detail.updated_at]);
  if (error)
    return (
      <div class="alert" role="alert">
        {error}
      </div>
    );
  if (!files) return <p class="muted">Loading files…</p>;
  const needle = find.trim().toLowerCase();
  const shown = needle ? files.filter((f) => f.name.toLowerCase().includes(needle)) : files;
  const total = files.reduce((n, f) => n + (f.size ?? 0), 0);
  return (
    <section class="card">
      <div class="card-head">
        <h2>
          Files <span class="muted small">({files.length}, {fmtBytes(total)})</span>
        </h2>
        <input type="search" aria-label="Find a file" placeholder="Find a file" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} />
      </div>
      <table class="table" data-testid="files">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col">Updated</th>
            <th scope="col">MD5</th>
            <th scope="col">
              <span class="visually-hidden">Download</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map((f) => (
            <tr key={f.name} data-file={f.name}>
              <td class="mono">{f.name}</td>
              <td class="num">{fmtBytes(f.size)}</td>
              <td>{fmtDate(f.updated_at)}</td>
              <td class="mono small muted">{f.md5 ?? "–"}</td>
              <td>
                {f.uploaded ? (
                  <a href={f.url} download={f.name.split("/").pop()} data-testid="download" aria-label={`Download ${f.name}`}>
                    Download
                  </a>
                ) : (
                  <span class="muted">uploading…</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
