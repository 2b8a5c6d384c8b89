import { useState } from 'preact/hooks';
import type { ConsoleConfig } from '../../core/api/console-config.js';
import { ApiError, type Credential, connect, disconnect, probe } from './api.js';
import { beginOidcSignIn, saveCredential } from './session.js';

/** Sign-in: an API key (checked with one call before it is kept), or the configured OIDC issuer. */
export function SignIn({
  config,
  error,
  onSignedIn,
}: {
  config: ConsoleConfig;
  error: string | undefined;
  onSignedIn: (credential: Credential) => void;
}) {
  const [key, setKey] = useState('');
  // Its own problems, else the shell's (a refused OIDC answer, a credential refused mid-session).
  const [problem, setProblem] = useState<string>();
  const shown = problem ?? error;
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const credential: Credential = { kind: 'apiKey', value: key.trim() };
    setBusy(true);
    connect(config, credential, () => undefined);
    try {
      await probe();
      saveCredential(credential);
      onSignedIn(credential);
    } catch (caught) {
      disconnect();
      setProblem(
        caught instanceof ApiError && caught.status === 401
          ? 'That key was refused: unknown, revoked or expired.'
          : caught instanceof ApiError && caught.status === 403
            ? 'That key works but lacks the Administrator role the console needs.'
            : caught instanceof Error
              ? caught.message
              : String(caught),
      );
    } finally {
      setBusy(false);
    }
  };

  const oidc = config.oidc;
  return (
    <main class="sign-in" id="main">
      <h1>Schedule execution service</h1>
      <p class="muted">Operator console. Sign in to continue.</p>
      {shown && (
        <p class="error" role="alert">
          {shown}
        </p>
      )}
      <form onSubmit={submit}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
          aria-describedby="api-key-help"
        />
        <p id="api-key-help" class="hint">
          An Administrator key (<code>npm start</code> prints one). It is kept for this browser tab only.
        </p>
        <button type="submit" class="primary" disabled={busy || !key.trim()}>
          Sign in with API key
        </button>
      </form>
      {oidc && (
        <>
          <p class="or">or</p>
          <button
            type="button"
            onClick={() =>
              beginOidcSignIn(oidc).catch((caught: unknown) =>
                setProblem(caught instanceof Error ? caught.message : String(caught)),
              )
            }
          >
            Sign in with {new URL(oidc.issuer).host}
          </button>
        </>
      )}
    </main>
  );
}
