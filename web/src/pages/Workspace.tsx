// The project workspace: the runs table (sort, filter expression, search, columns, pages)
// and charts for every logged metric of the visible runs, grouped in sections by prefix.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, ApiError, type ProjectKeys, type WorkspaceRun, type WorkspaceRunPage } from "../api";
import { DEFAULT_SETTINGS, SettingsControls, type ChartSettings } from "../components/ChartSettings";
import { MetricChart, type ChartRun } from "../components/MetricChart";
import { assignColors, runColor } from "../lib/colors";
import { sectionsOf } from "../lib/chartData";
import { fmtAgo, fmtDate, fmtDuration, fmtValue } from "../lib/format";
import { paths } from "../router";
import { usePersistent } from "../theme";

interface WorkspaceState {
  sort: string;
  filter: string;
  search: string;
  columns: string[];
  pageSize: number;
  settings: ChartSettings;
  groupBy: string;
  hidden: string[];
  maxVisible: number;
  overrides: Record<string, Partial<ChartSettings>>;
  collapsed: string[];
  chartFilter: string;
  layout: "split" | "table";
}

const INITIAL: WorkspaceState = {
  sort: "-created_at",
  filter: "",
  search: "",
  columns: [],
  pageSize: 50,
  settings: DEFAULT_SETTINGS,
  groupBy: "",
  hidden: [],
  maxVisible: 10,
  overrides: {},
  collapsed: [],
  chartFilter: "",
  layout: "split",
};

const POLL_RUNNING_MS = 4000;
const POLL_IDLE_MS = 30000;

const BASE_COLUMNS: { key: string; label: string; sort?: string }[] = [
  { key: "name", label: "Name", sort: "name" },
  { key: "state", label: "State", sort: "state" },
  { key: "created", label: "Created", sort: "created_at" },
  { key: "runtime", label: "Runtime", sort: "runtime" },
  { key: "tags", label: "Tags" },
  { key: "user", label: "User", sort: "user" },
];

export function StateBadge(props: { state: string }) {
  return <span class={`state state-${props.state}`}>{props.state}</span>;
}

function groupValue(run: WorkspaceRun, groupBy: string): string | undefined {
  if (!groupBy) return undefined;
  if (groupBy === "group") return run.group ?? "(none)";
  if (groupBy === "job_type") return run.job_type ?? "(none)";
  const v = run.values[groupBy];
  return v === undefined ? "(none)" : fmtValue(v);
}

export function Workspace(props: { entity: string; project: string; theme: string }) {
  const { entity, project } = props;
  const [state, setState] = usePersistent<WorkspaceState>(`runyard.ws.${entity}/${project}`, INITIAL);
  const update = (patch: Partial<WorkspaceState>) => setState({ ...state, ...patch });
  const [page, setPage] = useState<WorkspaceRunPage | null>(null);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [error, setError] = useState<string | null>(null);
  const [filterText, setFilterText] = useState(state.filter);
  const [searchText, setSearchText] = useState(state.search);
  const [keys, setKeys] = useState<ProjectKeys | null>(null);
  const [keysError, setKeysError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [reloadTick, setReloadTick] = useState(0);
  const [lastUpdate, setLastUpdate] = useState<number | null>(null);
  const cursor = cursors[cursors.length - 1];

  const requestColumns = useMemo(() => {
    const cols = new Set(state.columns);
    if (state.groupBy.startsWith("config.")) cols.add(state.groupBy);
    return [...cols];
  }, [state.columns, state.groupBy]);

  // The runs page: on every change of query, and on each poll.
  const inflight = useRef<AbortController | null>(null);
  useEffect(() => {
    inflight.current?.abort();
    const ctrl = new AbortController();
    inflight.current = ctrl;
    setLoading(true);
    api
      .runs(
        entity,
        project,
        { filter: state.filter, search: state.search, sort: state.sort, columns: requestColumns, limit: state.pageSize, cursor: cursor ?? undefined },
        ctrl.signal,
      )
      .then((p) => {
        setPage(p);
        setError(null);
        setLoading(false);
        setLastUpdate(Date.now());
      })
      .catch((e: unknown) => {
        if ((e as Error).name === "AbortError") return;
        setError(e instanceof ApiError ? e.message : String(e));
        setLoading(false);
      });
    return () => ctrl.abort();
  }, [entity, project, state.filter, state.search, state.sort, requestColumns.join("\n"), state.pageSize, cursor, reloadTick]);

  const anyRunning = !!page?.items.some((r) => r.state === "running");

  // Keys (metrics and columns): at start, and while runs are running (new keys appear).
  useEffect(() => {
    api
      .keys(entity, project)
      .then((k) => {
        setKeys(k);
        setKeysError(null);
      })
      .catch((e: unknown) => setKeysError(e instanceof ApiError ? e.message : String(e)));
  }, [entity, project, anyRunning ? Math.floor(reloadTick / 3) : 0]);

  // Live updates: poll while the tab is visible; quickly while any run is running.
  useEffect(() => {
    const delay = anyRunning ? POLL_RUNNING_MS : POLL_IDLE_MS;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") setReloadTick((t) => t + 1);
    }, delay);
    return () => clearInterval(timer);
  }, [anyRunning]);

  const resetPages = () => setCursors([null]);
  const applyFilter = (e?: Event) => {
    e?.preventDefault();
    resetPages();
    update({ filter: filterText.trim(), search: searchText.trim() });
  };
  const setSort = (col: string) => {
    resetPages();
    update({ sort: state.sort === `-${col}` ? col : `-${col}` });
  };

  const rows = page?.items ?? [];
  const colorKey = rows.map((r) => r.id).join(",");
  const colors = useMemo(() => assignColors(rows.map((r) => r.id)), [colorKey]);
  const colorOf = (id: string) => colors.get(id) ?? runColor(id);
  const hidden = new Set(state.hidden);
  const visibleRuns = rows.filter((r) => !hidden.has(r.id)).slice(0, state.maxVisible);
  const visibleIds = new Set(visibleRuns.map((r) => r.id));
  const runsSignature = visibleRuns
    .map((r) => [r.id, r.display_name, r.history_line_count, r.state, groupValue(r, state.groupBy), colorOf(r.id)].join("\u0001"))
    .join("\u0002");
  const chartRuns: ChartRun[] = useMemo(
    () =>
      visibleRuns.map((r) => ({
        id: r.id,
        label: r.display_name,
        color: colorOf(r.id),
        createdAt: r.created_at,
        historyLines: r.history_line_count,
        running: r.state === "running",
        group: groupValue(r, state.groupBy),
      })),
    [runsSignature],
  );
  const toggleRun = (id: string) => {
    const next = new Set(hidden);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    update({ hidden: [...next] });
  };

  const metrics = (keys?.metrics ?? []).filter((k) => !k.startsWith("_"));
  let chartKeys = metrics;
  if (state.chartFilter.trim()) {
    const needle = state.chartFilter.trim().toLowerCase();
    chartKeys = metrics.filter((k) => k.toLowerCase().includes(needle));
  }
  const sections = sectionsOf(chartKeys);
  const start = (cursors.length - 1) * state.pageSize;

  const expanded = state.layout === "table";
  return (
    <div class={`page workspace${expanded ? " table-mode" : ""}`}>
      <div class="page-head">
        <h1>{project}</h1>
        <nav class="project-nav" aria-label="Project">
          <a class="nav-link" href={paths.artifacts(entity, project)} data-testid="artifacts-link">
            Artifacts
          </a>
        </nav>
        <span class="muted">
          {page ? `${page.total.toLocaleString()} run${page.total === 1 ? "" : "s"}` : ""}
          {anyRunning && (
            <span class="live" title="Updates every few seconds while runs are running" data-testid="live">
              ● live
            </span>
          )}
        </span>
        <span class="spacer" />
        <button
          type="button"
          class="secondary"
          data-testid="layout-toggle"
          aria-pressed={expanded}
          onClick={() => update({ layout: expanded ? "split" : "table" })}
        >
          {expanded ? "Show charts" : "Expand runs table"}
        </button>
      </div>

      <div class="ws-grid">
        <section class="card runs-panel" aria-labelledby="runs-title">
          <h2 id="runs-title" class="visually-hidden">
            Runs
          </h2>
          <form class="run-query" onSubmit={applyFilter} role="search">
            <div class="toolbar">
              <label class="visually-hidden" for="run-search">
                Search runs
              </label>
              <input
                id="run-search"
                data-testid="run-search"
                class="grow"
                type="search"
                placeholder="Search name, id or tag"
                value={searchText}
                onInput={(e) => setSearchText((e.target as HTMLInputElement).value)}
              />
              <ColumnPicker keys={keys} columns={state.columns} onChange={(columns) => update({ columns })} />
            </div>
            <div class="toolbar">
              <label class="visually-hidden" for="run-filter">
                Filter expression
              </label>
              <input
                id="run-filter"
                data-testid="run-filter"
                class="grow mono"
                placeholder="Filter: config.lr < 0.01 and summary.acc > 0.9"
                value={filterText}
                aria-invalid={error ? "true" : undefined}
                aria-describedby="filter-help"
                onInput={(e) => setFilterText((e.target as HTMLInputElement).value)}
              />
              <button type="submit" class="primary">
                Apply
              </button>
              {(state.filter || state.search) && (
                <button
                  type="button"
                  class="secondary"
                  onClick={() => {
                    setFilterText("");
                    setSearchText("");
                    resetPages();
                    update({ filter: "", search: "" });
                  }}
                >
                  Clear
                </button>
              )}
            </div>
            <details class="help">
              <summary class="muted small">Filter syntax</summary>
              <p id="filter-help" class="muted small">
                Fields: <code>config.&lt;key&gt;</code>, <code>summary.&lt;key&gt;</code>, name, id, state, tags, group, job_type, user,
                host, created. Operators: <code>= != &lt; &lt;= &gt; &gt;= ~</code> (regex), <code>in (a, b)</code>, <code>contains</code>,{" "}
                <code>exists</code>; combine with <code>and</code>, <code>or</code>, <code>not</code> and parentheses. Example:{" "}
                <code>state in (running, crashed) or tags = best</code>
              </p>
            </details>
          </form>
          {error && (
            <div class="alert" role="alert" data-testid="runs-error">
              {error}
            </div>
          )}
          <div class="table-scroll">
            <table class="table runs-table" data-testid="runs-table" aria-busy={loading ? "true" : "false"}>
              <thead>
                <tr>
                  <th scope="col" class="eye-col">
                    <span class="visually-hidden">Shown in charts</span>
                  </th>
                  {BASE_COLUMNS.map((c) => (
                    <SortHeader key={c.key} label={c.label} sortKey={c.sort} sort={state.sort} onSort={setSort} />
                  ))}
                  {state.columns.map((c) => (
                    <SortHeader key={c} label={c} sortKey={c} sort={state.sort} onSort={setSort} mono />
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => {
                  const shown = visibleIds.has(r.id);
                  return (
                    <tr key={r.id} data-run={r.id} class={shown ? "" : "dim"}>
                      <td class="eye-col">
                        <button
                          type="button"
                          class={`eye${shown ? " on" : ""}`}
                          aria-pressed={shown}
                          aria-label={`${shown ? "Hide" : "Show"} ${r.display_name} in charts`}
                          title={
                            hidden.has(r.id) ? "Hidden: click to show" : shown ? "Shown in charts: click to hide" : `Not shown: at most ${state.maxVisible} runs are drawn`
                          }
                          onClick={() => toggleRun(r.id)}
                        >
                          <span class="swatch" style={{ background: colorOf(r.id) }} />
                        </button>
                      </td>
                      <td class="name-cell">
                        <a href={paths.run(entity, project, r.id)} data-testid="run-link" title={`${r.display_name} (${r.id})`}>
                          {r.display_name}
                        </a>
                      </td>
                      <td>
                        <StateBadge state={r.state} />
                      </td>
                      <td title={fmtDate(r.created_at)}>{fmtAgo(r.created_at)}</td>
                      <td class="num">{fmtDuration(r.runtime)}</td>
                      <td>
                        {r.tags.map((t) => (
                          <span class="tag" key={t}>
                            {t}
                          </span>
                        ))}
                      </td>
                      <td>{r.user ?? "–"}</td>
                      {state.columns.map((c) => (
                        <td key={c} class="num mono" data-col={c}>
                          {fmtValue(r.values[c])}
                        </td>
                      ))}
                    </tr>
                  );
                })}
                {page && rows.length === 0 && (
                  <tr>
                    <td colSpan={BASE_COLUMNS.length + state.columns.length + 1} class="muted">
                      No runs match.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <div class="pager">
            <span class="muted" data-testid="pager-status">
              {page && rows.length > 0 ? `${(start + 1).toLocaleString()}–${(start + rows.length).toLocaleString()} of ${page.total.toLocaleString()}` : ""}
            </span>
            <span class="spacer" />
            <button type="button" class="secondary small" aria-label="First page" disabled={cursors.length <= 1} onClick={() => setCursors([null])}>
              «
            </button>
            <button type="button" class="secondary small" aria-label="Previous page" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              ‹ Prev
            </button>
            <button
              type="button"
              class="secondary small"
              aria-label="Next page"
              data-testid="next-page"
              disabled={!page?.next_cursor}
              onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
            >
              Next ›
            </button>
            <label for="page-size" class="visually-hidden">
              Rows per page
            </label>
            <select
              id="page-size"
              title="Rows per page"
              value={state.pageSize}
              onChange={(e) => {
                resetPages();
                update({ pageSize: Number((e.target as HTMLSelectElement).value) });
              }}
            >
              {[20, 50, 100, 200, 500].map((n) => (
                <option value={n}>{n} / page</option>
              ))}
            </select>
          </div>
          <div class="pager">
            <label for="max-visible">Runs in charts</label>
            <select id="max-visible" value={state.maxVisible} onChange={(e) => update({ maxVisible: Number((e.target as HTMLSelectElement).value) })}>
              {[1, 5, 10, 20, 50, 100, 200].map((n) => (
                <option value={n}>{n}</option>
              ))}
            </select>
            <button type="button" class="link small" onClick={() => update({ hidden: [] })} disabled={state.hidden.length === 0}>
              Show all
            </button>
            <button type="button" class="link small" onClick={() => update({ hidden: [...new Set([...state.hidden, ...rows.map((r) => r.id)])] })}>
              Hide all
            </button>
            <span class="spacer" />
            {visibleRuns.length >= 2 && (
              <a class="small" data-testid="compare-link" href={paths.compare(entity, project, visibleRuns.slice(0, 20).map((r) => r.id))}>
                Compare {Math.min(20, visibleRuns.length)} runs
              </a>
            )}
          </div>
        </section>

        {!expanded && (
          <section class="charts-panel" aria-labelledby="charts-title">
            <div class="charts-toolbar card">
              <div class="settings-row">
                <h2 id="charts-title">Charts</h2>
                <SettingsControls idPrefix="ws" value={state.settings} metrics={metrics} onChange={(settings) => update({ settings })} />
              </div>
              <div class="settings-row">
                <label for="group-by">Group runs</label>
                <select id="group-by" data-testid="group-by" value={state.groupBy} onChange={(e) => update({ groupBy: (e.target as HTMLSelectElement).value })}>
                  <option value="">No grouping</option>
                  <option value="group">Group (wandb group)</option>
                  <option value="job_type">Job type</option>
                  {(keys?.config ?? []).slice(0, 300).map((c) => (
                    <option value={`config.${c}`}>config.{c}</option>
                  ))}
                </select>
                <label for="chart-filter" class="visually-hidden">
                  Find charts
                </label>
                <input
                  id="chart-filter"
                  type="search"
                  placeholder="Find charts"
                  value={state.chartFilter}
                  onInput={(e) => update({ chartFilter: (e.target as HTMLInputElement).value })}
                />
                <span class="muted small">
                  {visibleRuns.length} run{visibleRuns.length === 1 ? "" : "s"} drawn · drag to zoom, double-click to reset
                  {lastUpdate && ` · updated ${new Date(lastUpdate).toLocaleTimeString()}`}
                </span>
              </div>
            </div>
            {keysError && (
              <div class="alert" role="alert">
                {keysError}
              </div>
            )}
            {keys && metrics.length === 0 && <p class="muted">No metrics logged yet. Charts appear here for every key a run logs with run.log().</p>}
            {sections.map(([name, list]) => {
              const collapsed = state.collapsed.includes(name);
              return (
                <div class="chart-section" key={name} data-section={name}>
                  <h3>
                    <button
                      type="button"
                      class="section-toggle"
                      aria-expanded={!collapsed}
                      onClick={() => update({ collapsed: collapsed ? state.collapsed.filter((c) => c !== name) : [...state.collapsed, name] })}
                    >
                      <span aria-hidden="true">{collapsed ? "▸" : "▾"}</span> {name} <span class="muted small">({list.length})</span>
                    </button>
                  </h3>
                  {!collapsed && (
                    <div class="chart-grid">
                      {list.map((metric) => (
                        <MetricChart
                          key={metric}
                          scope="workspace"
                          entity={entity}
                          project={project}
                          metric={metric}
                          runs={chartRuns}
                          settings={state.settings}
                          override={state.overrides[metric]}
                          onOverride={(v) => {
                            const overrides = { ...state.overrides };
                            if (v) overrides[metric] = v;
                            else delete overrides[metric];
                            update({ overrides });
                          }}
                          metrics={metrics}
                          theme={props.theme}
                          grouped={!!state.groupBy}
                        />
                      ))}
                    </div>
                  )}
                </div>
              );
            })}
          </section>
        )}
      </div>
    </div>
  );
}

function SortHeader(props: { label: string; sortKey?: string; sort: string; onSort: (k: string) => void; mono?: boolean }) {
  const { sortKey, sort } = props;
  const active = sortKey && (sort === sortKey || sort === `-${sortKey}`);
  const descending = sort.startsWith("-");
  const ariaSort = active ? (descending ? "descending" : "ascending") : undefined;
  if (!sortKey)
    return (
      <th scope="col" class={props.mono ? "mono" : ""}>
        {props.label}
      </th>
    );
  return (
    <th scope="col" aria-sort={ariaSort} class={props.mono ? "mono" : ""}>
      <button type="button" class="sort" data-sort={sortKey} onClick={() => props.onSort(sortKey)}>
        {props.label}
        <span aria-hidden="true" class="sort-mark">
          {active ? (descending ? " ▼" : " ▲") : ""}
        </span>
      </button>
    </th>
  );
}

function ColumnPicker(props: { keys: ProjectKeys | null; columns: string[]; onChange: (c: string[]) => void }) {
  const [open, setOpen] = useState(false);
  const [find, setFind] = useState("");
  const all = [
    ...(props.keys?.config ?? []).map((k) => `config.${k}`),
    ...(props.keys?.summary ?? []).filter((k) => !k.startsWith("_wandb")).map((k) => `summary.${k}`),
  ];
  const needle = find.trim().toLowerCase();
  const shown = (needle ? all.filter((c) => c.toLowerCase().includes(needle)) : all).slice(0, 300);
  const chosen = new Set(props.columns);
  return (
    <div class="dropdown">
      <button type="button" class="secondary" aria-expanded={open} aria-controls="column-picker" data-testid="columns-button" onClick={() => setOpen(!open)}>
        Columns{props.columns.length ? ` (${props.columns.length})` : ""}
      </button>
      {open && (
        <div class="dropdown-menu" id="column-picker" role="group" aria-label="Config and summary columns">
          <input type="search" placeholder="Find a key" aria-label="Find a column" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} autoFocus />
          <div class="dropdown-list">
            {shown.map((c) => (
              <label class="check" key={c}>
                <input
                  type="checkbox"
                  checked={chosen.has(c)}
                  data-column={c}
                  onChange={() => props.onChange(chosen.has(c) ? props.columns.filter((x) => x !== c) : [...props.columns, c])}
                />
                <span class="mono">{c}</span>
              </label>
            ))}
            {shown.length === 0 && <span class="muted small">No config or summary keys.</span>}
          </div>
          <button type="button" class="secondary small" onClick={() => setOpen(false)}>
            Done
          </button>
        </div>
      )}
    </div>
  );
}
