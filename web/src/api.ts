// The server's JSON API (/api/v1), authenticated with HTTP Basic "api:<API key>".

import { parseJson } from "./lib/json";
import type { ApiSeries } from "./lib/chartData";

const KEY_STORAGE = "runyard.apiKey";
/** Set when the key came from a username + password sign-in: sign-out revokes it. */
const SESSION_STORAGE = "runyard.sessionKey";

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public code: string,
  ) {
    super(message);
  }
}

let apiKey: string | null = safeGet(KEY_STORAGE);
const listeners = new Set<() => void>();

function safeGet(name: string): string | null {
  try {
    return localStorage.getItem(name);
  } catch {
    return null;
  }
}

export function getKey(): string | null {
  return apiKey;
}

export function isSessionKey(): boolean {
  return apiKey !== null && safeGet(SESSION_STORAGE) === "1";
}

export function setKey(key: string | null, opts: { session?: boolean } = {}): void {
  apiKey = key;
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    if (key && opts.session) localStorage.setItem(SESSION_STORAGE, "1");
    else localStorage.removeItem(SESSION_STORAGE);
  } catch {
    // private mode: keep the key for this page only
  }
  listeners.forEach((f) => f());
}

/** Called when the server refuses the key (401): the app goes back to sign-in. */
export function onKeyChange(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

export type Query = Record<string, string | number | boolean | null | undefined | (string | number)[]>;

export function qs(query: Query | undefined): string {
  if (!query) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, String(x)));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export function authHeader(key: string): string {
  return "Basic " + btoa(`api:${key}`);
}

export async function request<T>(
  path: string,
  opts: { method?: string; query?: Query; body?: unknown; key?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const key = opts.key ?? apiKey;
  const headers: Record<string, string> = { Accept: "application/json" };
  if (key) headers.Authorization = authHeader(key);
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path + qs(opts.query), {
      method: opts.method ?? "GET",
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError("cannot reach the server", 0, "network");
  }
  const text = await response.text();
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    let code = "error";
    try {
      const body = parseJson(text) as { errors?: { message?: string; extensions?: { code?: string } }[] };
      const first = body.errors?.[0];
      if (first?.message) message = first.message;
      if (first?.extensions?.code) code = first.extensions.code;
    } catch {
      // not JSON: keep the status line
    }
    if (response.status === 401 && opts.key === undefined && apiKey) setKey(null);
    throw new ApiError(message, response.status, code);
  }
  return (text ? parseJson(text) : null) as T;
}

// shapes ------------------------------------------------------------------------------------
export interface Viewer {
  username: string;
  entity: string;
  email: string;
  admin: boolean;
}

export interface ProjectActivity {
  entity: string;
  name: string;
  created_at: number;
  run_count: number;
  last_activity: number;
  running: number;
}

export interface WorkspaceRun {
  id: string;
  display_name: string;
  state: string;
  user: string | null;
  tags: string[];
  group: string | null;
  job_type: string | null;
  notes: string | null;
  host: string | null;
  created_at: number;
  updated_at: number;
  heartbeat_at: number;
  finished_at: number | null;
  runtime: number;
  last_step: number | null;
  history_line_count: number;
  values: Record<string, unknown>;
}

export interface WorkspaceRunPage {
  items: WorkspaceRun[];
  total: number;
  next_cursor: string | null;
}

export interface ProjectKeys {
  metrics: string[];
  config: string[];
  summary: string[];
  runs_scanned: number;
  truncated: boolean;
}

export interface RunDetail {
  entity: string;
  project: string;
  id: string;
  display_name: string;
  state: string;
  exit_code: number | null;
  notes: string | null;
  group: string | null;
  job_type: string | null;
  tags: string[];
  host: string | null;
  program: string | null;
  commit: string | null;
  created_at: number;
  updated_at: number;
  heartbeat_at: number;
  finished_at: number | null;
  stop_requested: boolean;
  history_line_count: number;
  events_line_count: number;
  log_line_count: number;
  last_step: number | null;
  config: Record<string, unknown> | null;
  summary: Record<string, unknown> | null;
  history_keys: Record<string, Record<string, number>> | null;
  metadata: Record<string, unknown> | null;
}

export interface FileItem {
  name: string;
  size: number | null;
  md5: string | null;
  uploaded: boolean;
  updated_at: number;
  url: string;
}

export interface StorageSettings {
  blob_store_url: string;
  blob_store_region: string;
  blob_store_kms_key: string;
  blob_store_endpoint: string;
  queue_url: string;
  locked: string[];
}

const enc = encodeURIComponent;

export function projectPath(entity: string, project: string): string {
  return `/api/v1/entities/${enc(entity)}/projects/${enc(project)}`;
}

export function runPath(entity: string, project: string, run: string): string {
  return `${projectPath(entity, project)}/runs/${enc(run)}`;
}

export function wsPath(entity: string, project: string): string {
  return `/api/v1/workspace/entities/${enc(entity)}/projects/${enc(project)}`;
}

export const api = {
  viewer: (key?: string) => request<Viewer>("/api/v1/viewer", { key }),
  projects: (entity: string) =>
    request<{ items: ProjectActivity[]; next_offset: number | null }>(
      `/api/v1/workspace/entities/${enc(entity)}/projects`,
      { query: { limit: 200 } },
    ),
  runs: (entity: string, project: string, query: Query, signal?: AbortSignal) =>
    request<WorkspaceRunPage>(`${wsPath(entity, project)}/runs`, { query, signal }),
  keys: (entity: string, project: string) => request<ProjectKeys>(`${wsPath(entity, project)}/keys`),
  charts: (entity: string, project: string, query: Query, signal?: AbortSignal) =>
    request<{ series: ApiSeries[] }>(`${projectPath(entity, project)}/charts`, { query, signal }),
  run: (entity: string, project: string, run: string) => request<RunDetail>(runPath(entity, project, run)),
  editRun: (entity: string, project: string, run: string, body: { display_name?: string; tags?: string[]; notes?: string }) =>
    request<RunDetail>(runPath(entity, project, run), { method: "PATCH", body }),
  stopRun: (entity: string, project: string, run: string) =>
    request<{ stop_requested: boolean }>(`${runPath(entity, project, run)}/stop`, { method: "POST" }),
  logs: (entity: string, project: string, run: string, offset: number, limit = 1000) =>
    request<{ lines: { line_no: number; content: string }[]; next_offset: number | null }>(
      `${runPath(entity, project, run)}/logs`,
      { query: { offset, limit } },
    ),
  systemMetrics: (entity: string, project: string, run: string, offset: number) =>
    request<{ rows: Record<string, unknown>[]; next_offset: number | null }>(
      `${runPath(entity, project, run)}/system-metrics`,
      { query: { offset, limit: 10000 } },
    ),
  files: (entity: string, project: string, run: string, offset = 0) =>
    request<{ items: FileItem[]; next_offset: number | null }>(`${runPath(entity, project, run)}/files`, {
      query: { offset, limit: 1000 },
    }),
  storage: () => request<StorageSettings>("/api/v1/system-admin/storage"),
  saveStorage: (body: Omit<StorageSettings, "locked">) =>
    request<StorageSettings>("/api/v1/system-admin/storage", { method: "PUT", body }),
};

// artifacts ---------------------------------------------------------------------------------
export interface ArtifactType {
  name: string;
  description: string | null;
  created_at: number;
  collection_count: number;
}

export interface ArtifactCollection {
  entity: string;
  project: string;
  name: string;
  type: string;
  description: string | null;
  created_at: number;
  updated_at: number;
  version_count: number;
  latest_version: string | null;
}

export interface ArtifactVersion {
  entity: string;
  project: string;
  collection: string;
  type: string;
  version: string | null;
  version_index: number | null;
  aliases: string[];
  state: string;
  digest: string;
  description: string | null;
  size: number;
  file_count: number;
  created_at: number;
  updated_at: number;
}

export interface RunRef {
  entity: string;
  project: string;
  id: string;
  display_name: string;
  state: string;
}

export interface ArtifactVersionDetail extends ArtifactVersion {
  metadata: Record<string, unknown>;
  tags: string[];
  history_step: number | null;
  created_by: RunRef | null;
  logged_by: RunRef[];
  logged_by_total: number;
  used_by: RunRef[];
  used_by_total: number;
}

export interface ArtifactFile {
  path: string;
  size: number | null;
  digest: string;
  md5: string | null;
  ref: string | null;
  url: string | null;
}

export interface Paged<T> {
  items: T[];
  total: number;
  next_offset: number | null;
}

export function collectionPath(entity: string, project: string, collection: string): string {
  return `${projectPath(entity, project)}/artifacts/${enc(collection)}`;
}

export function versionPath(entity: string, project: string, collection: string, version: string): string {
  return `${collectionPath(entity, project, collection)}/versions/${enc(version)}`;
}

/** Every page of a paged listing (bounded: at most `max` items). */
export async function allPages<T>(fetchPage: (offset: number) => Promise<{ items: T[]; next_offset: number | null }>, max = 10_000): Promise<T[]> {
  const all: T[] = [];
  let offset: number | null = 0;
  while (offset != null && all.length < max) {
    const page: { items: T[]; next_offset: number | null } = await fetchPage(offset);
    all.push(...page.items);
    offset = page.next_offset;
  }
  return all;
}

export const artifactApi = {
  types: (entity: string, project: string, offset = 0) =>
    request<{ items: ArtifactType[]; next_offset: number | null }>(`${projectPath(entity, project)}/artifact-types`, {
      query: { offset, limit: 100 },
    }),
  collections: (entity: string, project: string, type: string, offset = 0, limit = 50) =>
    request<Paged<ArtifactCollection>>(`${projectPath(entity, project)}/artifact-types/${enc(type)}/collections`, {
      query: { offset, limit },
    }),
  collection: (entity: string, project: string, collection: string) =>
    request<ArtifactCollection>(collectionPath(entity, project, collection)),
  versions: (entity: string, project: string, collection: string, offset = 0) =>
    request<Paged<ArtifactVersion>>(`${collectionPath(entity, project, collection)}/versions`, {
      query: { offset, limit: 100 },
    }),
  version: (entity: string, project: string, collection: string, version: string) =>
    request<ArtifactVersionDetail>(versionPath(entity, project, collection, version)),
  files: (entity: string, project: string, collection: string, version: string, offset = 0) =>
    request<Paged<ArtifactFile>>(`${versionPath(entity, project, collection, version)}/files`, {
      query: { offset, limit: 1000 },
    }),
  runArtifacts: (entity: string, project: string, run: string, kind: "output" | "input", offset = 0) =>
    request<Paged<ArtifactVersion>>(`${runPath(entity, project, run)}/artifacts`, {
      query: { kind, offset, limit: 100 },
    }),
};

// users, keys, sessions, license, networks (/system-admin) ---------------------------------
export interface AdminUser {
  username: string;
  email: string;
  admin: boolean;
  entity: string;
  created_at: number;
  active: boolean;
  has_password: boolean;
  active_keys: number;
}

export interface ApiKeyInfo {
  id: number;
  hint: string;
  label: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  active: boolean;
}

export interface CreatedKey {
  api_key: string;
  key: ApiKeyInfo;
}

export interface LicenseState {
  set: boolean;
  source: "environment" | "saved" | "none";
  hint: string | null;
  locked: boolean;
  features_locked: boolean;
  statement: string;
}

export interface NetworkState {
  allowed_cidrs: string[];
  trusted_proxies: string[];
  locked: boolean;
  your_address: string | null;
}

export interface SessionInfo {
  api_key: string;
  username: string;
  entity: string;
  admin: boolean;
}

const usersPath = "/api/v1/system-admin/users";

export const adminApi = {
  users: () => request<{ items: AdminUser[] }>(usersPath),
  createUser: (body: { username: string; email: string; admin: boolean; password: string | null }) =>
    request<CreatedKey & { user: AdminUser }>(usersPath, { method: "POST", body }),
  setActive: (username: string, active: boolean) =>
    request<AdminUser>(`${usersPath}/${enc(username)}`, { method: "PATCH", body: { active } }),
  setPassword: (username: string, password: string | null) =>
    request<AdminUser>(`${usersPath}/${enc(username)}/password`, { method: "PUT", body: { password } }),
  keys: (username: string) => request<{ items: ApiKeyInfo[] }>(`${usersPath}/${enc(username)}/keys`),
  createKey: (username: string, label: string) =>
    request<CreatedKey>(`${usersPath}/${enc(username)}/keys`, { method: "POST", body: { label } }),
  revokeKey: (username: string, id: number) =>
    request<ApiKeyInfo>(`${usersPath}/${enc(username)}/keys/${id}`, { method: "DELETE" }),
  license: () => request<LicenseState>("/api/v1/system-admin/license"),
  saveLicense: (license: string) => request<LicenseState>("/api/v1/system-admin/license", { method: "PUT", body: { license } }),
  network: () => request<NetworkState>("/api/v1/system-admin/network"),
  saveNetwork: (allowed_cidrs: string[]) =>
    request<NetworkState>("/api/v1/system-admin/network", { method: "PUT", body: { allowed_cidrs } }),
};

export const sessionApi = {
  /** Username + password -> a new API key for this browser (no key needed to ask). */
  signIn: (username: string, password: string) =>
    request<SessionInfo>("/api/v1/sessions", { method: "POST", body: { username, password }, key: "" }),
  /** Revoke the session key `key` (sent explicitly: the app has forgotten it already). */
  signOut: (key: string) => request<null>("/api/v1/sessions/current", { method: "DELETE", key }),
  changePassword: (current_password: string, new_password: string) =>
    request<null>("/api/v1/viewer/password", { method: "PUT", body: { current_password, new_password } }),
};
