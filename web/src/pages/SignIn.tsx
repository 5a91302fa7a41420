// Sign-in: with an API key (kept in this browser), or with username and password (the
// server answers with a new "browser session" key, which sign-out revokes).

import { useRef, useState } from "preact/hooks";
import { api, ApiError, sessionApi, setKey } from "../api";
import { navigate } from "../router";

type Mode = "key" | "password";
const MODE_STORAGE = "runyard.signinMode";

function savedMode(): Mode {
  try {
    return localStorage.getItem(MODE_STORAGE) === "password" ? "password" : "key";
  } catch {
    return "key";
  }
}

export function SignIn(props: { next: string }) {
  const [mode, setModeState] = useState<Mode>(savedMode());
  const [key, setValue] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tabs = { key: useRef<HTMLButtonElement>(null), password: useRef<HTMLButtonElement>(null) };

  function setMode(next: Mode, focusTab = false) {
    setModeState(next);
    setError(null);
    try {
      localStorage.setItem(MODE_STORAGE, next);
    } catch {
      // private mode: the choice lasts for this page
    }
    if (focusTab) tabs[next].current?.focus();
  }

  function onTabKey(e: KeyboardEvent) {
    // arrow keys move between the two tabs (WAI-ARIA tabs pattern)
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) {
      e.preventDefault();
      const next: Mode = e.key === "Home" ? "key" : e.key === "End" ? "password" : mode === "key" ? "password" : "key";
      setMode(next, true);
    }
  }

  async function submitKey(e: Event) {
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

  async function submitPassword(e: Event) {
    e.preventDefault();
    if (!username.trim() || !password) {
      setError("Enter your username and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const session = await sessionApi.signIn(username.trim(), password);
      setPassword("");
      setKey(session.api_key, { session: true });
      navigate(props.next || "/", true);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError("Wrong username or password.");
      else if (err instanceof ApiError && err.status === 429) setError("Too many failed attempts. Wait a minute, then try again.");
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const errorBox = error && (
    <div class="alert" role="alert" data-testid="signin-error">
      {error}
    </div>
  );
  const submit = (
    <button type="submit" class="primary" disabled={busy}>
      {busy ? "Signing in…" : "Sign in"}
    </button>
  );

  return (
    <div class="page signin">
      <div class="card signin-card">
        <h1 id="signin-title">Sign in to Runyard</h1>
        <div class="signin-modes" role="tablist" aria-label="How to sign in">
          <button
            ref={tabs.key}
            type="button"
            role="tab"
            id="signin-tab-key"
            class={mode === "key" ? "signin-mode active" : "signin-mode"}
            aria-selected={mode === "key"}
            aria-controls="signin-panel"
            tabIndex={mode === "key" ? 0 : -1}
            data-testid="signin-mode-key"
            onClick={() => setMode("key")}
            onKeyDown={onTabKey}
          >
            API key
          </button>
          <button
            ref={tabs.password}
            type="button"
            role="tab"
            id="signin-tab-password"
            class={mode === "password" ? "signin-mode active" : "signin-mode"}
            aria-selected={mode === "password"}
            aria-controls="signin-panel"
            tabIndex={mode === "password" ? 0 : -1}
            data-testid="signin-mode-password"
            onClick={() => setMode("password")}
            onKeyDown={onTabKey}
          >
            Username &amp; password
          </button>
        </div>
        <div id="signin-panel" role="tabpanel">
          {mode === "key" ? (
            <form class="signin-form" onSubmit={submitKey} aria-labelledby="signin-title" data-testid="signin-key-form">
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
                server prints the <code>admin</code> key once at its first start; an admin makes keys in System admin or with{" "}
                <code>runyard admin create-user NAME</code>. It is kept in this browser until you sign out.
              </p>
              {errorBox}
              {submit}
            </form>
          ) : (
            <form class="signin-form" onSubmit={submitPassword} aria-labelledby="signin-title" data-testid="signin-password-form">
              <label for="signin-username">Username</label>
              <input
                id="signin-username"
                name="username"
                autocomplete="username"
                autoCapitalize="none"
                spellcheck={false}
                value={username}
                onInput={(e) => setUsername((e.target as HTMLInputElement).value)}
                aria-invalid={error ? "true" : undefined}
                autoFocus
              />
              <label for="signin-password">Password</label>
              <input
                id="signin-password"
                name="password"
                type="password"
                autocomplete="current-password"
                value={password}
                onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
                aria-describedby="signin-password-help"
                aria-invalid={error ? "true" : undefined}
              />
              <p id="signin-password-help" class="muted small">
                An admin sets passwords in System admin (or with <code>runyard admin set-password NAME</code>). Signing in makes a
                key for this browser; signing out revokes it.
              </p>
              {errorBox}
              {submit}
            </form>
          )}
        </div>
      </div>
    </div>
  );
}
