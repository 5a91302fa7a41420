// /system-admin: the instance's external file storage, tested by the server before it saves.

import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type StorageSettings, type Viewer } from "../api";

type Fields = Omit<StorageSettings, "locked">;

const FIELDS: { name: keyof Fields; label: string; help: string; placeholder?: string }[] = [
  { name: "blob_store_url", label: "File storage URL", help: "file:///PATH for a local disk, or s3://BUCKET/PREFIX.", placeholder: "s3://my-bucket/runyard" },
  { name: "blob_store_region", label: "Region", help: "The bucket's AWS region (S3 only).", placeholder: "eu-central-1" },
  { name: "blob_store_kms_key", label: "KMS key", help: "Key id or ARN for SSE-KMS encryption; empty for the bucket's default.", placeholder: "arn:aws:kms:…:key/…" },
  { name: "blob_store_endpoint", label: "S3 endpoint", help: "An S3-compatible endpoint (MinIO, SeaweedFS); empty for AWS.", placeholder: "http://seaweedfs:8333" },
  { name: "queue_url", label: "Notification queue", help: "Where object-created notifications arrive: internal:// or sqs://QUEUE.", placeholder: "internal://" },
];

export function SystemAdmin(props: { viewer: Viewer }) {
  const [current, setCurrent] = useState<StorageSettings | null>(null);
  const [form, setForm] = useState<Fields | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(!props.viewer.admin);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!props.viewer.admin) return;
    api
      .storage()
      .then((s) => {
        setCurrent(s);
        setForm({ blob_store_url: s.blob_store_url, blob_store_region: s.blob_store_region, blob_store_kms_key: s.blob_store_kms_key, blob_store_endpoint: s.blob_store_endpoint, queue_url: s.queue_url });
      })
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 403) setForbidden(true);
        else setError(e instanceof ApiError ? e.message : String(e));
      });
  }, [props.viewer.admin]);

  if (forbidden)
    return (
      <div class="page">
        <h1>System admin</h1>
        <div class="alert" role="alert" data-testid="admin-forbidden">
          Only admins can open the system settings. You are signed in as <strong>{props.viewer.username}</strong>, who is not an admin.
        </div>
      </div>
    );

  async function save(e: Event) {
    e.preventDefault();
    if (!form) return;
    setBusy(true);
    setResult(null);
    try {
      const saved = await api.saveStorage(form);
      setCurrent(saved);
      setForm({ blob_store_url: saved.blob_store_url, blob_store_region: saved.blob_store_region, blob_store_kms_key: saved.blob_store_kms_key, blob_store_endpoint: saved.blob_store_endpoint, queue_url: saved.queue_url });
      setResult({ ok: true, text: "Saved. The storage was tested and is in use now." });
    } catch (err) {
      setResult({ ok: false, text: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  }

  const locked = new Set(current?.locked ?? []);
  return (
    <div class="page admin-page">
      <h1>System admin</h1>
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
          {result && (
            <div class={result.ok ? "notice ok" : "alert"} role={result.ok ? "status" : "alert"} data-testid="storage-result">
              {result.text}
            </div>
          )}
        </form>
      )}
      <section class="card">
        <h2>Not available yet</h2>
        <p class="muted small">
          License, users and API keys, and allowed CIDRs have no server API yet. Create users and keys with{" "}
          <code>runyard admin create-user NAME</code> and <code>runyard admin create-key NAME</code>.
        </p>
      </section>
    </div>
  );
}
