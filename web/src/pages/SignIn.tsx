import { useState } from "preact/hooks";
import { api, ApiError, setKey } from "../api";
import { navigate } from "../router";

export function SignIn(props: { next: string }) {
  const [key, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const candidate = key.trim();
    if (!candidate) {
      setError("Enter your API key.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.viewer(candidate);
      setKey(candidate);
      navigate(props.next || "/", true);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "This API key is not valid." : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="page signin">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Runyard</h1>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="current-password"
          value={key}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          aria-describedby="api-key-help"
          aria-invalid={error ? "true" : undefined}
          autoFocus
        />
        <p id="api-key-help" class="muted small">
          The key you use with <code>wandb login --host {location.origin}</code> (in <code>~/.netrc</code> after login). The
          server prints the <code>admin</code> key once at its first start; an admin makes keys with{" "}
          <code>runyard admin create-user NAME</code>. It is kept in this browser until you sign out.
        </p>
        {error && (
          <div class="alert" role="alert" data-testid="signin-error">
            {error}
          </div>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
