// One artifact version (by vN or an alias): what it is, its metadata, its files and its lineage
// (the runs that logged it and the runs that used it).

import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { allPages, ApiError, artifactApi, type ArtifactFile, type ArtifactVersionDetail, type RunRef } from "../api";
import { fmtBytes, fmtDate, fmtValue, flatten } from "../lib/format";
import { navigate, paths } from "../router";
import { StateBadge } from "./Workspace";
import { Aliases, ArtifactState, Problem } from "./Artifacts";

type Props = { entity: string; project: string; type: string; name: string; version: string };

export function ArtifactVersionPage(props: Props) {
  const { entity, project, type, name, version } = props;
  const [detail, setDetail] = useState<ArtifactVersionDetail | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    setDetail(null);
    setError(null);
    artifactApi
      .version(entity, project, name, version)
      .then((d) => {
        if (stopped) return;
        if (d.type !== type) navigate(paths.artifact(entity, project, d.type, name, version), true);
        setDetail(d);
      })
      .catch((e: unknown) => !stopped && setError(e instanceof ApiError ? e.message : String(e)));
    return () => {
      stopped = true;
    };
  }, [entity, project, type, name, version]);

  if (error)
    return (
      <div class="page">
        <Problem text={error} />
        <p>
          <a href={paths.collection(entity, project, type, name)}>Every version of {name}</a>
        </p>
      </div>
    );
  if (!detail) return <div class="page muted">Loading artifact version…</div>;
  const resolved = detail.version ?? version;
  const info: [string, ComponentChildren][] = [
    ["Version", <span class="mono">{resolved}</span>],
    ["Aliases", <Aliases aliases={detail.aliases} />],
    ["Type", detail.type],
    ["State", <ArtifactState state={detail.state} />],
    ["Description", detail.description ? <span class="prewrap">{detail.description}</span> : "–"],
    ["Digest", <code>{detail.digest}</code>],
    ["Size", `${fmtBytes(detail.size)} in ${detail.file_count} file${detail.file_count === 1 ? "" : "s"}`],
    ["Created", fmtDate(detail.created_at)],
    ["Updated", fmtDate(detail.updated_at)],
  ];
  if (detail.tags.length) info.push(["Tags", detail.tags.map((t) => <span class="tag" key={t}>{t}</span>)]);
  if (detail.history_step != null) info.push(["History step", detail.history_step]);
  info.push(["Use it", <code class="wrap">{`run.use_artifact("${detail.entity}/${detail.project}/${detail.collection}:${resolved}")`}</code>]);
  return (
    <div class="page">
      <div class="page-head">
        <h1 data-testid="artifact-title">
          {detail.collection}
          <span class="muted">:{resolved}</span>
        </h1>
        <span class="badge">{detail.type}</span>
        {version !== resolved && (
          <span class="muted small" data-testid="resolved-alias">
            alias <span class="mono">{version}</span> → <span class="mono">{resolved}</span>
          </span>
        )}
        <span class="spacer" />
        <a class="nav-link" href={paths.collection(entity, project, detail.type, name)} data-testid="all-versions">
          Every version
        </a>
      </div>
      <div class="overview">
        <div>
          <section class="card" aria-labelledby="version-title">
            <h2 id="version-title">Version</h2>
            <table class="kv" data-testid="artifact-info">
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
          <Lineage detail={detail} />
        </div>
        <div>
          <Metadata data={detail.metadata} />
        </div>
      </div>
      <Files entity={entity} project={project} name={name} version={resolved} count={detail.file_count} />
    </div>
  );
}

/** Links to runs; a run of another project shows where it is, and `first` is marked. */
function RunLinks(props: { runs: RunRef[]; total: number; testid: string; home: { entity: string; project: string }; first?: RunRef | null }) {
  const { runs, total, home, first } = props;
  if (total === 0) return <p class="muted">None.</p>;
  const isFirst = (r: RunRef) => !!first && first.entity === r.entity && first.project === r.project && first.id === r.id;
  return (
    <>
      <ul class="run-links" data-testid={props.testid}>
        {runs.map((r) => (
          <li key={`${r.entity}/${r.project}/${r.id}`}>
            <a href={paths.run(r.entity, r.project, r.id)} data-run={r.id}>
              {r.display_name}
            </a>{" "}
            <span class="muted mono small">
              {r.entity !== home.entity || r.project !== home.project ? `${r.entity}/${r.project}/` : ""}
              {r.id}
            </span>{" "}
            <StateBadge state={r.state} />
            {runs.length > 1 && isFirst(r) && <span class="muted small"> · logged it first</span>}
          </li>
        ))}
      </ul>
      {total > runs.length && (
        <p class="muted small">
          {runs.length} of {total} shown.
        </p>
      )}
    </>
  );
}

function Lineage(props: { detail: ArtifactVersionDetail }) {
  const { detail } = props;
  const home = { entity: detail.entity, project: detail.project };
  return (
    <section class="card" aria-labelledby="lineage-title" data-testid="lineage">
      <h2 id="lineage-title">Lineage</h2>
      <h3>Logged by</h3>
      <RunLinks runs={detail.logged_by} total={detail.logged_by_total} testid="logged-by" home={home} first={detail.created_by} />
      <h3>Used by</h3>
      <RunLinks runs={detail.used_by} total={detail.used_by_total} testid="used-by" home={home} />
    </section>
  );
}

function Metadata(props: { data: Record<string, unknown> }) {
  const [find, setFind] = useState("");
  const rows = useMemo(() => flatten(props.data).filter(([k]) => k), [props.data]);
  const needle = find.trim().toLowerCase();
  const shown = needle ? rows.filter(([k, v]) => k.toLowerCase().includes(needle) || fmtValue(v).toLowerCase().includes(needle)) : rows;
  return (
    <section class="card" aria-labelledby="metadata-title">
      <div class="card-head">
        <h2 id="metadata-title">Metadata</h2>
        {rows.length > 0 && <input type="search" aria-label="Find in metadata" placeholder="Find" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} />}
      </div>
      {rows.length === 0 ? (
        <p class="muted">No metadata.</p>
      ) : (
        <>
          <table class="kv" data-testid="metadata">
            <tbody>
              {shown.map(([k, v]) => (
                <tr key={k} data-key={k}>
                  <th scope="row" class="mono">
                    {k}
                  </th>
                  <td class="mono">{fmtValue(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <details class="raw-json">
            <summary>JSON</summary>
            <pre data-testid="metadata-json">{JSON.stringify(props.data, null, 2)}</pre>
          </details>
        </>
      )}
    </section>
  );
}

function Files(props: { entity: string; project: string; name: string; version: string; count: number }) {
  const { entity, project, name, version } = props;
  const [files, setFiles] = useState<ArtifactFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [find, setFind] = useState("");
  useEffect(() => {
    let stopped = false;
    allPages((offset) => artifactApi.files(entity, project, name, version, offset), 100_000)
      .then((f) => !stopped && setFiles(f))
      .catch((e: unknown) => !stopped && setError(e instanceof ApiError ? e.message : String(e)));
    return () => {
      stopped = true;
    };
  }, [entity, project, name, version]);
  const needle = find.trim().toLowerCase();
  const shown = files && needle ? files.filter((f) => f.path.toLowerCase().includes(needle)) : files;
  return (
    <section class="card" aria-labelledby="files-title">
      <div class="card-head">
        <h2 id="files-title">
          Files <span class="muted small">({props.count})</span>
        </h2>
        <input type="search" aria-label="Find a file" placeholder="Find a file" value={find} onInput={(e) => setFind((e.target as HTMLInputElement).value)} />
      </div>
      {error && <Problem text={error} />}
      {!files && !error && <p class="muted">Loading files…</p>}
      {shown && (
        <div class="table-scroll">
          <table class="table" data-testid="artifact-files">
            <thead>
              <tr>
                <th scope="col">Path</th>
                <th scope="col" class="num">
                  Size
                </th>
                <th scope="col">MD5</th>
                <th scope="col">
                  <span class="visually-hidden">Download</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((f) => (
                <tr key={f.path} data-file={f.path}>
                  <td class="mono">{f.path}</td>
                  <td class="num">{fmtBytes(f.size)}</td>
                  <td class="mono small muted">{f.md5 ?? "–"}</td>
                  <td>
                    {f.url ? (
                      <a href={f.url} download={f.path.split("/").pop()} data-testid="download" aria-label={`Download ${f.path}`}>
                        Download
                      </a>
                    ) : (
                      <span class="muted small" title="A reference: the bytes stay where it points">
                        reference: <code>{f.ref}</code>
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
