import { useState } from 'preact/hooks';
import { api, messageOf } from './api.js';

/** The sign-in page: trades the daemon's token for a session cookie; a wrong token is refused in plain words. */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/1.0/session', { token });
      setToken('');
      onSignedIn();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form class="card sign-in-card" onSubmit={submit} aria-describedby="sign-in-help">
        <div class="brand brand-large">
          <span class="logo" aria-hidden="true" />
          Strata
        </div>
        <h1>Sign in</h1>
        <p id="sign-in-help" class="muted">
          Paste the daemon's access token. It is in <code>$STRATA_HOME/daemon/token</code> on the host that runs{' '}
          <code>strata daemon</code>.
        </p>
        <label class="field">
          <span>Access token</span>
          <input
            name="token"
            type="password"
            autocomplete="current-password"
            required
            autofocus
            value={token}
            aria-invalid={error ? 'true' : 'false'}
            aria-errormessage="sign-in-error"
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          />
        </label>
        {error ? (
          <p id="sign-in-error" class="error-note" role="alert">
            {error}
          </p>
        ) : null}
        <button class="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
