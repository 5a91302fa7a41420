import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type ProjectActivity, type Viewer } from "../api";
import { fmtAgo, fmtDate } from "../lib/format";
import { navigate, paths } from "../router";

export function Home(props: { viewer: Viewer; entity: string }) {
  const { viewer, entity } = props;
  const [projects, setProjects] = useState<ProjectActivity[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [other, setOther] = useState("");

  useEffect(() => {
    setProjects(null);
    setError(null);
    api
      .projects(entity)
      .then((page) => setProjects(page.items))
      .catch((e: unknown) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [entity]);

  const totalRuns = projects?.reduce((n, p) => n + p.run_count, 0) ?? 0;
  return (
    <div class="page">
      <div class="page-head">
        <h1>
          {entity}
          {entity === viewer.entity && <span class="muted small"> · your entity</span>}
        </h1>
        {viewer.admin && (
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              if (other.trim()) navigate(paths.entity(other.trim()));
            }}
          >
            <label for="entity-go">Open entity</label>
            <input id="entity-go" value={other} placeholder="entity name" onInput={(e) => setOther((e.target as HTMLInputElement).value)} />
            <button type="submit" class="secondary">
              Open
            </button>
          </form>
        )}
      </div>
      {error && (
        <div class="alert" role="alert">
          {error}
        </div>
      )}
      {!projects && !error && <p class="muted">Loading projects…</p>}
      {projects && projects.length === 0 && (
        <div class="card empty-state">
          <h2>No projects yet</h2>
          <p>Log a run with the unmodified wandb client and it appears here:</p>
          <pre>
            {`wandb login --host ${location.origin} <your API key>
python -c "import wandb; r = wandb.init(project='hello'); r.log({'loss': 1.0}); r.finish()"`}
          </pre>
        </div>
      )}
      {projects && projects.length > 0 && (
        <>
          <p class="muted">
            {projects.length} project{projects.length === 1 ? "" : "s"} · {totalRuns} run{totalRuns === 1 ? "" : "s"}
          </p>
          <table class="table" data-testid="projects">
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col" class="num">
                  Runs
                </th>
                <th scope="col" class="num">
                  Running
                </th>
                <th scope="col">Last activity</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={p.name}>
                  <td>
                    <a href={paths.project(p.entity, p.name)}>{p.name}</a>
                  </td>
                  <td class="num">{p.run_count}</td>
                  <td class="num">{p.running ? <span class="state state-running">{p.running}</span> : 0}</td>
                  <td title={fmtDate(p.last_activity)}>{fmtAgo(p.last_activity)}</td>
                  <td>{fmtDate(p.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
