// /system-admin: users and API keys, the license, allowed inbound networks, and the
// instance's external file storage (tested by the server before it saves). Admins only.

import { useEffect, useRef, useState } from "preact/hooks";
import {
  adminApi,
  api,
  ApiError,
  type AdminUser,
  type ApiKeyInfo,
  type CreatedKey,
  type LicenseState,
  type NetworkState,
  type StorageSettings,
  type Viewer,
} from "../api";
import { fmtAgo, fmtDate } from "../lib/format";

type Fields = Omit<StorageSettings, "locked">;
type Result = { ok: boolean; text: string } | null;

const FIELDS: { name: keyof Fields; label: string; help: string; placeholder?: string }[] = [
  { name: "blob_store_url", label: "File storage URL", help: "file:///PATH for a local disk, or s3://BUCKET/PREFIX.", placeholder: "s3://my-bucket/runyard" },
  { name: "blob_store_region", label: "Region", help: "The bucket's AWS region (S3 only).", placeholder: "eu-central-1" },
  { name: "blob_store_kms_key", label: "KMS key", help: "Key id or ARN for SSE-KMS encryption; empty for the bucket's default.", placeholder: "arn:aws:kms:…:key/…" },
  { name: "blob_store_endpoint", label: "S3 endpoint", help: "An S3-compatible endpoint (MinIO, SeaweedFS); empty for AWS.", placeholder: "http://seaweedfs:8333" },
  { name: "queue_url", label: "Notification queue", help: "Where object-created notifications arrive: internal:// or sqs://QUEUE.", placeholder: "internal://" },
];

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function ResultBox(props: { result: Result; testid: string }) {
  if (!props.result) return null;
  return (
    <div class={props.result.ok ? "notice ok" : "alert"} role={props.result.ok ? "status" : "alert"} data-testid={props.testid}>
      {props.result.text}
    </div>
  );
}

export function SystemAdmin(props: { viewer: Viewer }) {
  const [forbidden, setForbidden] = useState(!props.viewer.admin);

  if (forbidden)
    return (
      <div class="page">
        <h1>System admin</h1>
        <div class="alert" role="alert" data-testid="admin-forbidden">
          Only admins can open the system settings. You are signed in as <strong>{props.viewer.username}</strong>, who is not an admin.
        </div>
      </div>
    );

  const refused = () => setForbidden(true);
  return (
    <div class="page admin-page">
      <h1>System admin</h1>
      <nav class="admin-toc" aria-label="Sections">
        <a href="#users-title">Users and API keys</a>
        <a href="#license-title">License</a>
        <a href="#network-title">Allowed networks</a>
        <a href="#storage-title">File storage</a>
      </nav>
      <UsersCard viewer={props.viewer} onForbidden={refused} />
      <LicenseCard onForbidden={refused} />
      <NetworkCard onForbidden={refused} />
      <StorageCard onForbidden={refused} />
    </div>
  );
}

// users and keys ---------------------------------------------------------------------------
function NewKeyBox(props: { created: CreatedKey; owner: string; onClose: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  async function copy() {
    const text = props.created.api_key;
    try {
      await navigator.clipboard.writeText(text);
      setCopied("Copied to the clipboard.");
    } catch {
      // no clipboard API (e.g. plain http on another host): select it for Ctrl+C
      input.current?.select();
      const ok = document.execCommand?.("copy");
      setCopied(ok ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C) to copy.");
    }
  }

  return (
    <div class="new-key notice ok" role="status" data-testid="new-key-box">
      <p>
        <strong>New API key for {props.owner}.</strong> It is shown only now: copy it and keep it safe. The server keeps only a hash.
      </p>
      <div class="form-actions">
        <label for="new-key-value" class="visually-hidden">
          New API key
        </label>
        <input id="new-key-value" ref={input} class="grow mono" readOnly value={props.created.api_key} data-testid="new-key" onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button type="button" class="secondary" onClick={copy} data-testid="copy-key">
          Copy
        </button>
        <button type="button" class="link" onClick={props.onClose} data-testid="new-key-done">
          Done
        </button>
      </div>
      {copied && (
        <p class="small" data-testid="copy-status" aria-live="polite">
          {copied}
        </p>
      )}
    </div>
  );
}

function KeysPanel(props: { user: AdminUser; viewer: Viewer; onChanged: () => void }) {
  const { user } = props;
  const [keys, setKeys] = useState<ApiKeyInfo[] | null>(null);
  const [label, setLabel] = useState("");
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [confirming, setConfirming] = useState<number | null>(null);
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      setKeys((await adminApi.keys(user.username)).items);
    } catch (e) {
      setResult({ ok: false, text: message(e) });
    }
  }
  useEffect(() => {
    setKeys(null);
    setCreated(null);
    setResult(null);
    void load();
  }, [user.username]);

  async function createKey(e: Event) {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      setCreated(await adminApi.createKey(user.username, label.trim()));
      setLabel("");
      await load();
      props.onChanged();
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  }

  async function revoke(key: ApiKeyInfo) {
    setBusy(true);
    setResult(null);
    try {
      await adminApi.revokeKey(user.username, key.id);
      setConfirming(null);
      setResult({ ok: true, text: `Key …${key.hint} is revoked: it no longer signs anyone in.` });
      await load();
      props.onChanged();
    } catch (err) {
      setConfirming(null);
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="keys-panel" aria-labelledby="keys-title" data-testid="keys-panel">
      <h3 id="keys-title">API keys of {user.username}</h3>
      {created && <NewKeyBox created={created} owner={user.username} onClose={() => setCreated(null)} />}
      <ResultBox result={result} testid="keys-result" />
      {keys && keys.length === 0 && <p class="muted">No keys.</p>}
      {keys && keys.length > 0 && (
        <div class="table-scroll">
          <table class="table" data-testid="keys-table">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Label</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} class={k.active ? "" : "dim"} data-testid="key-row" data-hint={k.hint}>
                  <td class="mono">…{k.hint}</td>
                  <td>{k.label || <span class="muted">–</span>}</td>
                  <td title={fmtDate(k.created_at)}>{fmtAgo(k.created_at)}</td>
                  <td title={fmtDate(k.last_used_at)}>{k.last_used_at ? fmtAgo(k.last_used_at) : <span class="muted">never</span>}</td>
                  <td>{k.active ? "active" : `revoked ${fmtAgo(k.revoked_at)}`}</td>
                  <td class="actions">
                    {k.active &&
                      (confirming === k.id ? (
                        <span class="form-actions">
                          <button type="button" class="danger small" disabled={busy} onClick={() => revoke(k)} data-testid="confirm-revoke">
                            Revoke …{k.hint}
                          </button>
                          <button type="button" class="link small" onClick={() => setConfirming(null)}>
                            Cancel
                          </button>
                        </span>
                      ) : (
                        <button type="button" class="secondary small" onClick={() => setConfirming(k.id)} data-testid="revoke-key" aria-label={`Revoke key …${k.hint}`}>
                          Revoke
                        </button>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form class="form-actions key-form" onSubmit={createKey} data-testid="create-key-form">
        <label for="new-key-label">New key's label</label>
        <input id="new-key-label" value={label} maxLength={64} placeholder="e.g. laptop, CI" onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
        <button type="submit" class="primary" disabled={busy} data-testid="create-key">
          Create key
        </button>
      </form>
      <PasswordForm user={user} onChanged={props.onChanged} />
    </section>
  );
}

function PasswordForm(props: { user: AdminUser; onChanged: () => void }) {
  const { user } = props;
  const [password, setPassword] = useState("");
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);

  async function save(value: string | null) {
    setBusy(true);
    setResult(null);
    try {
      await adminApi.setPassword(user.username, value);
      setPassword("");
      setResult({ ok: true, text: value ? `${user.username} can sign in with the new password.` : `${user.username} signs in with API keys only now.` });
      props.onChanged();
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      class="form-actions key-form"
      data-testid="set-password-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (password) void save(password);
      }}
    >
      <label for="set-user-password">{user.has_password ? "New password" : "Password"}</label>
      <input id="set-user-password" type="password" minLength={8} autocomplete="new-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      <button type="submit" class="secondary" disabled={busy || !password} data-testid="set-password">
        {user.has_password ? "Change password" : "Set password"}
      </button>
      {user.has_password && (
        <button type="button" class="link" disabled={busy} onClick={() => save(null)} data-testid="remove-password">
          Remove password
        </button>
      )}
      <ResultBox result={result} testid="password-result" />
    </form>
  );
}

function UsersCard(props: { viewer: Viewer; onForbidden: () => void }) {
  const [users, setUsers] = useState<AdminUser[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [form, setForm] = useState({ username: "", email: "", admin: false, password: "" });
  const [created, setCreated] = useState<{ key: CreatedKey; owner: string } | null>(null);
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      setUsers((await adminApi.users()).items);
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) props.onForbidden();
      else setResult({ ok: false, text: message(e) });
    }
  }
  useEffect(() => {
    void load();
  }, []);

  async function createUser(e: Event) {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    setCreated(null);
    try {
      const made = await adminApi.createUser({
        username: form.username.trim(),
        email: form.email.trim(),
        admin: form.admin,
        password: form.password ? form.password : null,
      });
      setCreated({ key: made, owner: made.user.username });
      setForm({ username: "", email: "", admin: false, password: "" });
      await load();
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  }

  async function setActive(user: AdminUser, active: boolean) {
    setResult(null);
    try {
      await adminApi.setActive(user.username, active);
      setResult({ ok: true, text: active ? `${user.username} is active again.` : `${user.username} is deactivated: their keys and password no longer work.` });
      await load();
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    }
  }

  const chosen = users?.find((u) => u.username === selected) ?? null;
  return (
    <section class="card" aria-labelledby="users-title" data-testid="users-card">
      <h2 id="users-title">Users and API keys</h2>
      <ResultBox result={result} testid="users-result" />
      {users && (
        <div class="table-scroll">
          <table class="table" data-testid="users-table">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col" class="num">
                  Active keys
                </th>
                <th scope="col">Sign-in</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.username} class={u.active ? "" : "dim"} data-testid="user-row" data-username={u.username}>
                  <th scope="row">{u.username}</th>
                  <td>{u.email || <span class="muted">–</span>}</td>
                  <td>{u.admin ? <span class="badge">admin</span> : "user"}</td>
                  <td title={fmtDate(u.created_at)}>{fmtAgo(u.created_at)}</td>
                  <td class="num">{u.active_keys}</td>
                  <td>{u.has_password ? "password or key" : "key only"}</td>
                  <td>{u.active ? "active" : <strong>deactivated</strong>}</td>
                  <td class="actions">
                    <span class="form-actions">
                      <button
                        type="button"
                        class="secondary small"
                        aria-expanded={selected === u.username}
                        aria-controls="keys-title"
                        onClick={() => setSelected(selected === u.username ? null : u.username)}
                        data-testid="show-keys"
                      >
                        Keys
                      </button>
                      {u.username !== props.viewer.username &&
                        (u.active ? (
                          <button type="button" class="danger small" onClick={() => setActive(u, false)} data-testid="deactivate-user">
                            Deactivate
                          </button>
                        ) : (
                          <button type="button" class="secondary small" onClick={() => setActive(u, true)} data-testid="reactivate-user">
                            Reactivate
                          </button>
                        ))}
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {chosen && <KeysPanel user={chosen} viewer={props.viewer} onChanged={load} />}

      <form class="admin-form create-user" onSubmit={createUser} aria-labelledby="create-user-title" data-testid="create-user-form">
        <h3 id="create-user-title">Create a user</h3>
        <p class="muted small">The user gets an entity of the same name and a first API key, shown once below.</p>
        <div class="field-row">
          <div class="field">
            <label for="new-user-name">Username</label>
            <input id="new-user-name" required maxLength={128} autocomplete="off" value={form.username} onInput={(e) => setForm({ ...form, username: (e.target as HTMLInputElement).value })} />
          </div>
          <div class="field">
            <label for="new-user-email">Email</label>
            <input id="new-user-email" type="email" maxLength={255} autocomplete="off" value={form.email} onInput={(e) => setForm({ ...form, email: (e.target as HTMLInputElement).value })} />
          </div>
          <div class="field">
            <label for="new-user-password">Password (optional)</label>
            <input
              id="new-user-password"
              type="password"
              minLength={8}
              autocomplete="new-password"
              aria-describedby="new-user-password-help"
              value={form.password}
              onInput={(e) => setForm({ ...form, password: (e.target as HTMLInputElement).value })}
            />
            <span id="new-user-password-help" class="muted small">
              At least 8 characters; lets the user sign in here with a password.
            </span>
          </div>
        </div>
        <label class="check">
          <input type="checkbox" checked={form.admin} onChange={(e) => setForm({ ...form, admin: (e.target as HTMLInputElement).checked })} data-testid="new-user-admin" />
          Admin (may open System admin)
        </label>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy} data-testid="create-user">
            {busy ? "Creating…" : "Create user"}
          </button>
        </div>
      </form>
      {created && <NewKeyBox created={created.key} owner={created.owner} onClose={() => setCreated(null)} />}
    </section>
  );
}

// license ----------------------------------------------------------------------------------
function LicenseCard(props: { onForbidden: () => void }) {
  const [state, setState] = useState<LicenseState | null>(null);
  const [value, setValue] = useState("");
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    adminApi
      .license()
      .then(setState)
      .catch((e: unknown) => (e instanceof ApiError && e.status === 403 ? props.onForbidden() : setResult({ ok: false, text: message(e) })));
  }, []);

  async function save(license: string) {
    setBusy(true);
    setResult(null);
    try {
      setState(await adminApi.saveLicense(license));
      setValue("");
      setResult({ ok: true, text: license ? "License key saved." : "License key cleared." });
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card admin-form" aria-labelledby="license-title" data-testid="license-card">
      <h2 id="license-title">License</h2>
      {state && (
        <>
          <p class="notice ok" data-testid="license-statement">
            {state.statement}
          </p>
          <p data-testid="license-state">
            {state.set ? (
              <>
                A license key ending in <code>…{state.hint ?? "****"}</code> is {state.source === "environment" ? "set by the server's environment" : "saved"}.
              </>
            ) : (
              "No license key is set."
            )}
          </p>
          {state.locked ? (
            <p class="muted small">Set by RUNYARD_LICENSE (or LICENSE) or a flag; change it there.</p>
          ) : (
            <form
              class="form-actions"
              onSubmit={(e) => {
                e.preventDefault();
                if (value.trim()) void save(value.trim());
              }}
            >
              <label for="license-key">License key</label>
              <input id="license-key" class="grow" type="password" autocomplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
              <button type="submit" class="primary" disabled={busy || !value.trim()} data-testid="license-save">
                Save
              </button>
              {state.set && (
                <button type="button" class="secondary" disabled={busy} onClick={() => save("")} data-testid="license-clear">
                  Clear
                </button>
              )}
            </form>
          )}
        </>
      )}
      <ResultBox result={result} testid="license-result" />
    </section>
  );
}

// allowed networks -------------------------------------------------------------------------
function NetworkCard(props: { onForbidden: () => void }) {
  const [state, setState] = useState<NetworkState | null>(null);
  const [text, setText] = useState("");
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);

  function show(s: NetworkState) {
    setState(s);
    setText(s.allowed_cidrs.join("\n"));
  }
  useEffect(() => {
    adminApi
      .network()
      .then(show)
      .catch((e: unknown) => (e instanceof ApiError && e.status === 403 ? props.onForbidden() : setResult({ ok: false, text: message(e) })));
  }, []);

  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      const items = text.split(/[\s,]+/).filter(Boolean);
      show(await adminApi.saveNetwork(items));
      setResult({ ok: true, text: items.length ? "Saved: only these networks can reach the server now." : "Saved: every address can reach the server." });
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card admin-form" aria-labelledby="network-title" data-testid="network-card">
      <h2 id="network-title">Allowed networks</h2>
      {state && (
        <form onSubmit={save}>
          <p class="muted small">
            Only these IPv4/IPv6 networks (CIDRs such as <code>10.0.0.0/8</code>) may reach the server; others get 403, except the
            load balancer's <code>/healthz</code> and <code>/ready</code>. Empty: everyone. Your address as this server sees it:{" "}
            <code data-testid="your-address">{state.your_address ?? "unknown"}</code>
            {state.trusted_proxies.length > 0 && <> (behind the trusted proxies {state.trusted_proxies.join(", ")})</>}.
          </p>
          <div class="field">
            <label for="allowed-cidrs">Allowed networks, one per line</label>
            <textarea
              id="allowed-cidrs"
              rows={4}
              spellcheck={false}
              class="mono"
              value={text}
              disabled={state.locked}
              aria-describedby="allowed-cidrs-help"
              onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
            />
            <span id="allowed-cidrs-help" class="muted small">
              {state.locked ? "Set by RUNYARD_ALLOWED_CIDRS or a flag; change it there." : "A list without your own address is refused, so you cannot lock yourself out."}
            </span>
          </div>
          {!state.locked && (
            <div class="form-actions">
              <button type="submit" class="primary" disabled={busy} data-testid="network-save">
                Save
              </button>
            </div>
          )}
        </form>
      )}
      <ResultBox result={result} testid="network-result" />
    </section>
  );
}

// file storage -----------------------------------------------------------------------------
function StorageCard(props: { onForbidden: () => void }) {
  const [current, setCurrent] = useState<StorageSettings | null>(null);
  const [form, setForm] = useState<Fields | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<Result>(null);
  const [busy, setBusy] = useState(false);

  function show(s: StorageSettings) {
    setCurrent(s);
    setForm({ blob_store_url: s.blob_store_url, blob_store_region: s.blob_store_region, blob_store_kms_key: s.blob_store_kms_key, blob_store_endpoint: s.blob_store_endpoint, queue_url: s.queue_url });
  }
  useEffect(() => {
    api
      .storage()
      .then(show)
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 403) props.onForbidden();
        else setError(message(e));
      });
  }, []);

  async function save(e: Event) {
    e.preventDefault();
    if (!form) return;
    setBusy(true);
    setResult(null);
    try {
      show(await api.saveStorage(form));
      setResult({ ok: true, text: "Saved. The storage was tested and is in use now." });
    } catch (err) {
      setResult({ ok: false, text: message(err) });
    } finally {
      setBusy(false);
    }
  }

  const locked = new Set(current?.locked ?? []);
  return (
    <>
      {error && (
        <div class="alert" role="alert">
          {error}
        </div>
      )}
      {form && (
        <form class="card admin-form" onSubmit={save} aria-labelledby="storage-title" data-testid="storage-form">
          <h2 id="storage-title">External file storage</h2>
          <p class="muted small">
            Before anything changes, the server writes, reads and deletes a test object and reads the queue with the new settings; if
            that fails, the settings stay as they are and the reason is shown here.
          </p>
          {FIELDS.map((f) => (
            <div class="field" key={f.name}>
              <label for={`storage-${f.name}`}>{f.label}</label>
              <input
                id={`storage-${f.name}`}
                name={f.name}
                data-testid={`storage-${f.name}`}
                value={form[f.name]}
                placeholder={f.placeholder}
                disabled={locked.has(f.name)}
                aria-describedby={`storage-${f.name}-help`}
                onInput={(e) => setForm({ ...form, [f.name]: (e.target as HTMLInputElement).value })}
              />
              <span id={`storage-${f.name}-help`} class="muted small">
                {locked.has(f.name) ? "Set by the server's environment or flags; change it there." : f.help}
              </span>
            </div>
          ))}
          <div class="form-actions">
            <button type="submit" class="primary" disabled={busy} data-testid="storage-save">
              {busy ? "Testing and saving…" : "Test and save"}
            </button>
          </div>
          <ResultBox result={result} testid="storage-result" />
        </form>
      )}
    </>
  );
}
