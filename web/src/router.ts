// A small history router: the URL is the state. Client routes:
//   /signin  /  /system-admin  /{entity}  /{entity}/{project}[/workspace]
//   /{entity}/{project}/runs/{run}[/{tab}]
//   /{entity}/{project}/artifacts[/{type}[/{name}[/{version or alias}]]]

import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "signin"; next: string }
  | { page: "home"; entity?: string }
  | { page: "admin" }
  | { page: "workspace"; entity: string; project: string }
  | { page: "run"; entity: string; project: string; run: string; tab: string }
  | { page: "compare"; entity: string; project: string; runs: string[] }
  | { page: "artifacts"; entity: string; project: string; type?: string }
  | { page: "collection"; entity: string; project: string; type: string; name: string }
  | { page: "artifact"; entity: string; project: string; type: string; name: string; version: string }
  | { page: "notfound"; path: string };

export const RUN_TABS = ["overview", "charts", "system", "logs", "files", "artifacts"] as const;

export function parseRoute(pathname: string, search = ""): Route {
  const parts = pathname.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  if (parts.length === 0) return { page: "home" };
  if (parts[0] === "signin" && parts.length === 1) {
    const next = new URLSearchParams(search).get("next") || "/";
    return { page: "signin", next: next.startsWith("/") && !next.startsWith("//") ? next : "/" };
  }
  if (parts[0] === "system-admin" && parts.length === 1) return { page: "admin" };
  if (parts.length === 1) return { page: "home", entity: parts[0] };
  if (parts.length === 3 && parts[2] === "compare") {
    const runs = (new URLSearchParams(search).get("runs") || "").split(",").filter(Boolean);
    return { page: "compare", entity: parts[0], project: parts[1], runs };
  }
  if (parts.length === 2 || (parts.length === 3 && parts[2] === "workspace"))
    return { page: "workspace", entity: parts[0], project: parts[1] };
  if (parts[2] === "runs" && (parts.length === 4 || parts.length === 5)) {
    const tab = parts[4] ?? "overview";
    if ((RUN_TABS as readonly string[]).includes(tab))
      return { page: "run", entity: parts[0], project: parts[1], run: parts[3], tab };
  }
  if (parts[2] === "artifacts" && parts.length <= 6) {
    const [entity, project, , type, name, version] = parts;
    if (version !== undefined) return { page: "artifact", entity, project, type, name, version };
    if (name !== undefined) return { page: "collection", entity, project, type, name };
    return { page: "artifacts", entity, project, type };
  }
  return { page: "notfound", path: pathname };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.scrollTo(0, 0);
  listeners.forEach((f) => f());
}

if (typeof window !== "undefined") {
  window.addEventListener("popstate", () => listeners.forEach((f) => f()));
  document.addEventListener("click", onLinkClick);
}

/** Same-origin links to client routes change the route without a page load. */
function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = (event.target as Element | null)?.closest?.("a");
  if (!a || a.hasAttribute("download") || a.target || a.origin !== location.origin) return;
  const path = a.pathname;
  if (/^\/(api|storage|files|graphql|assets|sdk|healthz|ready)(\/|$)/.test(path)) return;
  event.preventDefault();
  navigate(path + a.search);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname, location.search));
  useEffect(() => {
    const f = () => setRoute(parseRoute(location.pathname, location.search));
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return route;
}

const enc = encodeURIComponent;

export const paths = {
  entity: (e: string) => `/${enc(e)}`,
  project: (e: string, p: string) => `/${enc(e)}/${enc(p)}`,
  compare: (e: string, p: string, runs: string[]) => `/${enc(e)}/${enc(p)}/compare?runs=${runs.map(enc).join(",")}`,
  run: (e: string, p: string, r: string, tab?: string) =>
    `/${enc(e)}/${enc(p)}/runs/${enc(r)}${tab && tab !== "overview" ? `/${tab}` : ""}`,
  artifacts: (e: string, p: string, type?: string) => `/${enc(e)}/${enc(p)}/artifacts${type ? `/${enc(type)}` : ""}`,
  collection: (e: string, p: string, type: string, name: string) => `/${enc(e)}/${enc(p)}/artifacts/${enc(type)}/${enc(name)}`,
  artifact: (e: string, p: string, type: string, name: string, version: string) =>
    `/${enc(e)}/${enc(p)}/artifacts/${enc(type)}/${enc(name)}/${enc(version)}`,
};
