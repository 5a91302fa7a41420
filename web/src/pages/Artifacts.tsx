// Artifacts: a project's types and their collections, a collection's versions, and the
// artifacts a run logged or used (the run page's "artifacts" tab).

import { useEffect, useState } from "preact/hooks";
import { allPages, ApiError, artifactApi, type ArtifactCollection, type ArtifactType, type ArtifactVersion } from "../api";
import { fmtAgo, fmtBytes, fmtDate } from "../lib/format";
import { navigate, paths } from "../router";

const COLLECTIONS_PAGE = 50;

function message(e: unknown): string {
  return e instanceof ApiError ? e.message : String(e);
}

export function Problem(props: { text: string }) {
  return (
    <div class="alert" role="alert">
      {props.text}
    </div>
  );
}

export function ArtifactState(props: { state: string }) {
  const cls = props.state === "COMMITTED" ? "state-finished" : props.state === "PENDING" ? "state-running" : "";
  return <span class={`state ${cls}`}>{props.state.toLowerCase()}</span>;
}

export function Aliases(props: { aliases: string[] }) {
  if (props.aliases.length === 0) return <span class="muted">–</span>;
  return (
    <span class="aliases">
      {props.aliases.map((a) => (
        <span class={a === "latest" ? "tag alias latest" : "tag alias"} key={a}>
          {a}
        </span>
      ))}
    </span>
  );
}

/** A version's name as people write it: `name:v3` (or `name` while it is pending). */
export function versionLabel(v: { collection: string; version: string | null }): string {
  return v.version ? `${v.collection}:${v.version}` : v.collection;
}

// the project's artifacts ------------------------------------------------------------------------
export function ProjectArtifacts(props: { entity: string; project: string; type?: string }) {
  const { entity, project } = props;
  const [types, setTypes] = useState<ArtifactType[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setTypes(null);
    setError(null);
    allPages((offset) => artifactApi.types(entity, project, offset))
      .then(setTypes)
      .catch((e: unknown) => setError(message(e)));
  }, [entity, project]);

  const shown = types && props.type ? types.filter((t) => t.name === props.type) : types;
  return (
    <div class="page artifacts-page">
      <div class="page-head">
        <h1>Artifacts</h1>
        <span class="muted">
          in <a href={paths.project(entity, project)}>{project}</a>
        </span>
        {props.type && (
          <a class="nav-link" href={paths.artifacts(entity, project)}>
            Show every type
          </a>
        )}
      </div>
      {error && <Problem text={error} />}
      {!types && !error && <p class="muted">Loading artifacts…</p>}
      {types && types.length === 0 && (
        <div class="card empty-state" data-testid="no-artifacts">
          <h2>No artifacts yet</h2>
          <p>Log one with the wandb client and it appears here:</p>
          <pre>
            {`art = wandb.Artifact("my-dataset", type="dataset")
art.add_file("data.csv")
run.log_artifact(art)`}
          </pre>
        </div>
      )}
      {shown && props.type && shown.length === 0 && <Problem text={`This project has no artifacts of type ${props.type}.`} />}
      {shown?.map((t) => (
        <TypeCollections key={t.name} entity={entity} project={project} type={t} />
      ))}
    </div>
  );
}

function TypeCollections(props: { entity: string; project: string; type: ArtifactType }) {
  const { entity, project, type } = props;
  const [items, setItems] = useState<ArtifactCollection[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [next, setNext] = useState<number | null>(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function more(offset: number, replace: boolean) {
    setBusy(true);
    try {
      const page = await artifactApi.collections(entity, project, type.name, offset, COLLECTIONS_PAGE);
      setItems((old) => (replace ? page.items : [...old, ...page.items]));
      setTotal(page.total);
      setNext(page.next_offset);
      setError(null);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    void more(0, true);
  }, [entity, project, type.name]);

  const headingId = `type-${type.name}`;
  return (
    <section class="card" aria-labelledby={headingId} data-type={type.name}>
      <div class="card-head">
        <h2 id={headingId}>
          <a href={paths.artifacts(entity, project, type.name)}>{type.name}</a>{" "}
          <span class="muted small">
            ({type.collection_count} artifact{type.collection_count === 1 ? "" : "s"})
          </span>
        </h2>
      </div>
      {type.description && <p class="muted">{type.description}</p>}
      {error && <Problem text={error} />}
      {total === 0 && <p class="muted">No artifacts of this type.</p>}
      {items.length > 0 && (
        <table class="table" data-testid="collections">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col" class="num">
                Versions
              </th>
              <th scope="col">Latest</th>
              <th scope="col">Updated</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.name} data-collection={c.name}>
                <td>
                  <a href={paths.collection(entity, project, type.name, c.name)} data-testid="collection-link">
                    {c.name}
                  </a>
                  {c.description && <span class="muted small"> · {c.description}</span>}
                </td>
                <td class="num" data-testid="version-count">
                  {c.version_count}
                </td>
                <td>
                  {c.latest_version ? (
                    <a href={paths.artifact(entity, project, type.name, c.name, c.latest_version)} class="mono">
                      {c.latest_version}
                    </a>
                  ) : (
                    <span class="muted">–</span>
                  )}
                </td>
                <td title={fmtDate(c.updated_at)}>{fmtAgo(c.updated_at)}</td>
                <td>{fmtDate(c.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next != null && total != null && (
        <div class="pager">
          <span class="muted small">
            {items.length} of {total}
          </span>
          <button type="button" class="secondary" disabled={busy} onClick={() => more(next, false)}>
            {busy ? "Loading…" : "Show more"}
          </button>
        </div>
      )}
    </section>
  );
}

// one collection: its versions -------------------------------------------------------------------
export function CollectionPage(props: { entity: string; project: string; type: string; name: string }) {
  const { entity, project, type, name } = props;
  const [collection, setCollection] = useState<ArtifactCollection | null>(null);
  const [versions, setVersions] = useState<ArtifactVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    setCollection(null);
    setVersions(null);
    setError(null);
    artifactApi
      .collection(entity, project, name)
      .then((c) => {
        if (stopped) return;
        // The name alone identifies a collection; a URL with another type is corrected.
        if (c.type !== type) navigate(paths.collection(entity, project, c.type, name), true);
        setCollection(c);
        return allPages((offset) => artifactApi.versions(entity, project, name, offset)).then((v) => !stopped && setVersions(v));
      })
      .catch((e: unknown) => !stopped && setError(message(e)));
    return () => {
      stopped = true;
    };
  }, [entity, project, type, name]);

  if (error)
    return (
      <div class="page">
        <Problem text={error} />
      </div>
    );
  if (!collection) return <div class="page muted">Loading artifact…</div>;
  return (
    <div class="page">
      <div class="page-head">
        <h1 data-testid="collection-title">{collection.name}</h1>
        <span class="badge">{collection.type}</span>
        <span class="muted">
          {collection.version_count} version{collection.version_count === 1 ? "" : "s"} · updated {fmtAgo(collection.updated_at)}
        </span>
      </div>
      {collection.description && <p>{collection.description}</p>}
      <section class="card" aria-labelledby="versions-title">
        <div class="card-head">
          <h2 id="versions-title">Versions</h2>
        </div>
        {!versions && <p class="muted">Loading versions…</p>}
        {versions && versions.length === 0 && <p class="muted">No versions.</p>}
        {versions && versions.length > 0 && <VersionTable versions={versions} testid="versions" showName={false} />}
      </section>
    </div>
  );
}

/** Versions with links to their pages; `showName` adds the artifact's name and type. */
export function VersionTable(props: { versions: ArtifactVersion[]; testid: string; showName: boolean }) {
  return (
    <div class="table-scroll">
      <table class="table" data-testid={props.testid}>
        <thead>
          <tr>
            <th scope="col">{props.showName ? "Artifact" : "Version"}</th>
            {props.showName && <th scope="col">Type</th>}
            <th scope="col">Aliases</th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col" class="num">
              Files
            </th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {props.versions.map((v) => (
            <tr key={`${v.entity}/${v.project}/${v.collection}/${v.version ?? v.created_at}`} data-version={v.version ?? ""} data-artifact={versionLabel(v)}>
              <td class="mono">
                {v.version ? (
                  <a href={paths.artifact(v.entity, v.project, v.type, v.collection, v.version)} data-testid="version-link">
                    {props.showName ? versionLabel(v) : v.version}
                  </a>
                ) : (
                  <span class="muted">{props.showName ? v.collection : "pending"}</span>
                )}
              </td>
              {props.showName && <td>{v.type}</td>}
              <td>
                <Aliases aliases={v.aliases} />
              </td>
              <td class="num">{fmtBytes(v.size)}</td>
              <td class="num">{v.file_count}</td>
              <td>{fmtDate(v.created_at)}</td>
              <td>
                <ArtifactState state={v.state} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

// the run page's tab -----------------------------------------------------------------------------
export function RunArtifacts(props: { entity: string; project: string; run: string }) {
  const { entity, project, run } = props;
  return (
    <div>
      <RunArtifactList entity={entity} project={project} run={run} kind="output" title="Logged artifacts" hint="Versions this run logged (outputs)." />
      <RunArtifactList entity={entity} project={project} run={run} kind="input" title="Used artifacts" hint="Versions this run used (inputs)." />
    </div>
  );
}

function RunArtifactList(props: { entity: string; project: string; run: string; kind: "output" | "input"; title: string; hint: string }) {
  const { entity, project, run, kind } = props;
  const [versions, setVersions] = useState<ArtifactVersion[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    allPages((offset) => artifactApi.runArtifacts(entity, project, run, kind, offset))
      .then((v) => !stopped && setVersions(v))
      .catch((e: unknown) => !stopped && setError(message(e)));
    return () => {
      stopped = true;
    };
  }, [entity, project, run, kind]);
  const id = `run-artifacts-${kind}`;
  return (
    <section class="card" aria-labelledby={id}>
      <div class="card-head">
        <h2 id={id}>
          {props.title} {versions && <span class="muted small">({versions.length})</span>}
        </h2>
        <span class="muted small">{props.hint}</span>
      </div>
      {error && <Problem text={error} />}
      {!versions && !error && <p class="muted">Loading…</p>}
      {versions && versions.length === 0 && (
        <p class="muted" data-testid={`no-${kind}-artifacts`}>
          None.
        </p>
      )}
      {versions && versions.length > 0 && <VersionTable versions={versions} testid={`${kind}-artifacts`} showName />}
    </section>
  );
}
