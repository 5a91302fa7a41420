// Runs side by side: overview fields, config and summary, with the rows that differ marked.

import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type RunDetail } from "../api";
import { runColor } from "../lib/colors";
import { flatten, fmtDate, fmtDuration, fmtValue } from "../lib/format";
import { paths } from "../router";
import { StateBadge } from "./Workspace";

type Row = { section: string; key: string; values: string[] };

function rowsOf(runs: RunDetail[]): Row[] {
  const rows: Row[] = [];
  const fields: [string, (r: RunDetail) => unknown][] = [
    ["state", (r) => r.state],
    ["created", (r) => fmtDate(r.created_at)],
    ["duration", (r) => fmtDuration((r.finished_at ?? r.heartbeat_at) - r.created_at)],
    ["tags", (r) => r.tags.join(", ")],
    ["group", (r) => r.group],
    ["job_type", (r) => r.job_type],
    ["host", (r) => r.host],
    ["commit", (r) => r.commit],
    ["last step", (r) => r.last_step],
  ];
  for (const [key, get] of fields) rows.push({ section: "Run", key, values: runs.map((r) => fmtValue(get(r))) });
  for (const [section, pick] of [
    ["Config", (r: RunDetail) => r.config ?? {}],
    ["Summary", (r: RunDetail) => Object.fromEntries(Object.entries(r.summary ?? {}).filter(([k]) => k !== "_wandb"))],
  ] as const) {
    const maps = runs.map((r) => new Map(flatten(pick(r)).filter(([k]) => k)));
    const keys = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort();
    for (const key of keys) rows.push({ section, key, values: maps.map((m) => (m.has(key) ? fmtValue(m.get(key)) : "–")) });
  }
  return rows;
}

export function Compare(props: { entity: string; project: string; runs: string[] }) {
  const [runs, setRuns] = useState<RunDetail[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [onlyDiff, setOnlyDiff] = useState(false);
  useEffect(() => {
    Promise.all(props.runs.slice(0, 20).map((id) => api.run(props.entity, props.project, id)))
      .then(setRuns)
      .catch((e: unknown) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [props.entity, props.project, props.runs.join(",")]);
  if (error)
    return (
      <div class="page">
        <div class="alert" role="alert">
          {error}
        </div>
      </div>
    );
  if (props.runs.length < 2) return <div class="page muted">Pick at least two runs to compare (from the workspace).</div>;
  if (!runs) return <div class="page muted">Loading runs…</div>;
  const rows = rowsOf(runs);
  const differs = (r: Row) => new Set(r.values).size > 1;
  const shown = onlyDiff ? rows.filter(differs) : rows;
  return (
    <div class="page">
      <div class="page-head">
        <h1>Compare {runs.length} runs</h1>
        <label class="check">
          <input type="checkbox" data-testid="only-diff" checked={onlyDiff} onChange={(e) => setOnlyDiff((e.target as HTMLInputElement).checked)} />
          Only differences ({rows.filter(differs).length})
        </label>
      </div>
      <div class="table-scroll compare-scroll">
        <table class="table compare" data-testid="compare">
          <thead>
            <tr>
              <th scope="col">Key</th>
              {runs.map((r) => (
                <th scope="col" key={r.id}>
                  <span class="swatch" style={{ background: runColor(r.id) }} />{" "}
                  <a href={paths.run(r.entity, r.project, r.id)}>{r.display_name}</a> <StateBadge state={r.state} />
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((row, i) => (
              <Fragment key={`${row.section}:${row.key}`}>
                {(i === 0 || shown[i - 1].section !== row.section) && (
                  <tr class="section-row" key={`s-${row.section}`}>
                    <th colSpan={runs.length + 1}>{row.section}</th>
                  </tr>
                )}
                <tr key={`${row.section}:${row.key}`} class={differs(row) ? "diff" : ""} data-key={`${row.section}:${row.key}`}>
                  <th scope="row" class="mono">
                    {row.key}
                  </th>
                  {row.values.map((v, j) => (
                    <td key={j} class="mono">
                      {v}
                    </td>
                  ))}
                </tr>
              </Fragment>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
