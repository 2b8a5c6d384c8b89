import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleConfig } from '../../core/api/console-config.js';
import { type Credential, connect, disconnect } from './api.js';
import { ApiKeysPage } from './api-keys.js';
import { ExecutionView } from './execution-view.js';
import { ActiveExecutionsPage, ExecutionsPage } from './executions.js';
import { ScheduleForm } from './schedule-form.js';
import { ScheduleDetail, SchedulesPage } from './schedules.js';
import { completeOidcSignIn, forgetCredential, savedCredential } from './session.js';
import { SignIn } from './sign-in.js';
import { href, useHashLocation } from './ui.js';
import { WorkersPage } from './workers.js';

/** The console's shell: config, sign-in, the navigation and the page the hash names. */

const NAV = [
  ['schedules', 'Schedules'],
  ['executions', 'Executions'],
  ['active', 'Active'],
  ['workers', 'Workers'],
  ['api-keys', 'API keys'],
] as const;

function Page() {
  const { path, query } = useHashLocation();
  const [section = 'schedules', id, sub] = path;
  if (section === 'schedules' && id === 'new') return <ScheduleForm />;
  if (section === 'schedules' && id && sub === 'edit') return <ScheduleForm id={id} />;
  if (section === 'schedules' && id) return <ScheduleDetail id={id} />;
  if (section === 'executions' && id) return <ExecutionView id={id} />;
  if (section === 'executions') return <ExecutionsPage query={query} />;
  if (section === 'active') return <ActiveExecutionsPage />;
  if (section === 'workers') return <WorkersPage />;
  if (section === 'api-keys') return <ApiKeysPage />;
  return <SchedulesPage query={query} />;
}

function App({ config }: { config: ConsoleConfig }) {
  const [credential, setCredential] = useState<Credential | undefined>(savedCredential);
  const [signInError, setSignInError] = useState<string>();
  const { path } = useHashLocation();
  const route = path.join('/');
  // A new page (or the first after signing in) takes focus to its heading, so keyboard and screen
  // reader users start there; signing out takes it to the key field (the button it was on is gone);
  // the page a tab opens on keeps the browser's own focus.
  const focusOnRoute = useRef(false);
  useEffect(() => {
    if (focusOnRoute.current) {
      document.querySelector<HTMLElement>(credential ? 'main h1' : '#api-key')?.focus();
    }
    focusOnRoute.current = true;
  }, [route, credential]);

  useEffect(() => {
    completeOidcSignIn(config.oidc).then(
      (fromIssuer) => fromIssuer && setCredential(fromIssuer),
      (error: unknown) => setSignInError(error instanceof Error ? error.message : String(error)),
    );
  }, [config]);

  const signOut = (reason?: string) => {
    forgetCredential();
    disconnect();
    setCredential(undefined);
    setSignInError(reason);
  };

  if (!credential) return <SignIn config={config} error={signInError} onSignedIn={setCredential} />;
  connect(config, credential, () =>
    signOut('Your credential was refused (revoked or expired): sign in again.'),
  );
  return (
    <>
      {/* A button, not `<a href="#main">`: the hash is the router's, and would change the page. */}
      <button
        type="button"
        class="skip"
        onClick={() => document.querySelector<HTMLElement>('main h1')?.focus()}
      >
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Schedule execution service</span>
        <nav aria-label="Sections">
          {NAV.map(([section, label]) => (
            <a
              key={section}
              href={href(`/${section}`)}
              aria-current={(path[0] ?? 'schedules') === section ? 'page' : undefined}
            >
              {label}
            </a>
          ))}
        </nav>
        <button type="button" class="link" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page />
      </main>
    </>
  );
}

async function start() {
  const root = document.getElementById('app') as HTMLElement;
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    render(<App config={(await response.json()) as ConsoleConfig} />, root);
  } catch (error) {
    render(
      <p class="error" role="alert">
        The console cannot start: {error instanceof Error ? error.message : String(error)}
      </p>,
      root,
    );
  }
}

void start();
