import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, getKey, isSessionKey, onKeyChange, sessionApi, setKey, type Viewer } from "./api";
import { navigate, paths, useRoute, type Route } from "./router";
import { setTheme, useTheme } from "./theme";
import { SignIn } from "./pages/SignIn";
import { Home } from "./pages/Home";
import { Workspace } from "./pages/Workspace";
import { RunPage } from "./pages/RunPage";
import { SystemAdmin } from "./pages/SystemAdmin";
import { Compare } from "./pages/Compare";
import { CollectionPage, ProjectArtifacts } from "./pages/Artifacts";
import { ArtifactVersionPage } from "./pages/ArtifactVersion";
import "./styles.css";

function Header(props: { viewer: Viewer | null; route: Route; theme: string }) {
  const { viewer, route } = props;
  const crumbs: { label: string; href: string }[] = [];
  if (route.page === "workspace" || route.page === "run" || route.page === "compare") {
    crumbs.push({ label: route.entity, href: paths.entity(route.entity) });
    crumbs.push({ label: route.project, href: paths.project(route.entity, route.project) });
    if (route.page === "run") crumbs.push({ label: route.run, href: paths.run(route.entity, route.project, route.run) });
    if (route.page === "compare") crumbs.push({ label: "compare", href: paths.compare(route.entity, route.project, route.runs) });
  } else if (route.page === "artifacts" || route.page === "collection" || route.page === "artifact") {
    crumbs.push({ label: route.entity, href: paths.entity(route.entity) });
    crumbs.push({ label: route.project, href: paths.project(route.entity, route.project) });
    crumbs.push({ label: "artifacts", href: paths.artifacts(route.entity, route.project) });
    if (route.type) crumbs.push({ label: route.type, href: paths.artifacts(route.entity, route.project, route.type) });
    if (route.page !== "artifacts") crumbs.push({ label: route.name, href: paths.collection(route.entity, route.project, route.type, route.name) });
    if (route.page === "artifact") crumbs.push({ label: route.version, href: paths.artifact(route.entity, route.project, route.type, route.name, route.version) });
  } else if (route.page === "home" && route.entity) crumbs.push({ label: route.entity, href: paths.entity(route.entity) });
  else if (route.page === "admin") crumbs.push({ label: "System admin", href: "/system-admin" });
  return (
    <header class="topbar">
      <a class="brand" href="/" aria-label="Runyard home">
        <img src="/favicon.svg" alt="" width="22" height="22" />
        Runyard
      </a>
      <nav class="crumbs" aria-label="Breadcrumb">
        {crumbs.map((c, i) => (
          <span key={c.href}>
            <span class="sep">/</span>
            {i === crumbs.length - 1 ? <span aria-current="page">{c.label}</span> : <a href={c.href}>{c.label}</a>}
          </span>
        ))}
      </nav>
      <div class="spacer" />
      <button
        type="button"
        class="icon"
        data-testid="theme-toggle"
        aria-label={props.theme === "dark" ? "Switch to light theme" : "Switch to dark theme"}
        title="Toggle light/dark theme"
        onClick={() => setTheme(props.theme === "dark" ? "light" : "dark")}
      >
        {props.theme === "dark" ? "☀" : "☾"}
      </button>
      {viewer && viewer.admin && (
        <a class="nav-link" href="/system-admin">
          System admin
        </a>
      )}
      {viewer && (
        <span class="who" data-testid="signed-in-as" title={viewer.email || viewer.username}>
          {viewer.username}
          {viewer.admin && <span class="badge">admin</span>}
        </span>
      )}
      {getKey() && (
        <button
          type="button"
          class="secondary"
          data-testid="sign-out"
          onClick={() => {
            // a key from a password sign-in is revoked on the server; other keys stay valid
            const key = getKey();
            const revoke = isSessionKey();
            setKey(null);
            navigate("/signin");
            if (key && revoke) sessionApi.signOut(key).catch(() => undefined);
          }}
        >
          Sign out
        </button>
      )}
    </header>
  );
}

function App() {
  const route = useRoute();
  const theme = useTheme();
  const [key, setKeyState] = useState(getKey());
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => onKeyChange(() => setKeyState(getKey())), []);
  useEffect(() => {
    setViewer(null);
    setProblem(null);
    if (!key) return;
    api
      .viewer()
      .then(setViewer)
      .catch((e: unknown) => setProblem(e instanceof ApiError ? e.message : String(e)));
  }, [key]);
  useEffect(() => {
    if (!key && route.page !== "signin") {
      const here = location.pathname + location.search;
      navigate(here === "/" ? "/signin" : `/signin?next=${encodeURIComponent(here)}`, true);
    }
  }, [key, route.page]);

  let body;
  if (route.page === "signin") body = <SignIn next={route.next} />;
  else if (!key) body = null;
  else if (problem) body = <div class="page"><div class="alert" role="alert">{problem}</div></div>;
  else if (!viewer) body = <div class="page muted">Loading…</div>;
  else if (route.page === "home") body = <Home viewer={viewer} entity={route.entity ?? viewer.entity} />;
  else if (route.page === "workspace") body = <Workspace key={`${route.entity}/${route.project}`} entity={route.entity} project={route.project} theme={theme} />;
  else if (route.page === "run") body = <RunPage key={`${route.entity}/${route.project}/${route.run}`} route={route} theme={theme} />;
  else if (route.page === "admin") body = <SystemAdmin viewer={viewer} />;
  else if (route.page === "artifacts") body = <ProjectArtifacts key={`${route.entity}/${route.project}`} entity={route.entity} project={route.project} type={route.type} />;
  else if (route.page === "collection") body = <CollectionPage key={`${route.entity}/${route.project}/${route.name}`} entity={route.entity} project={route.project} type={route.type} name={route.name} />;
  else if (route.page === "artifact") body = <ArtifactVersionPage key={`${route.entity}/${route.project}/${route.name}/${route.version}`} {...route} />;
  else if (route.page === "compare") body = <Compare key={route.runs.join(",")} entity={route.entity} project={route.project} runs={route.runs} />;
  else
    body = (
      <div class="page">
        <h1>Not found</h1>
        <p>
          Nothing at <code>{route.path}</code>. <a href="/">Go home</a>.
        </p>
      </div>
    );
  return (
    <>
      <Header viewer={viewer} route={route} theme={theme} />
      <main id="main">{body}</main>
    </>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
