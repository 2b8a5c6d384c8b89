import { useState } from 'preact/hooks';
import { Role } from '../../core/model.js';
import type { CreatedApiKey } from '../../core/schemas/api-key.js';
import { call } from './api.js';
import { ErrorMessage, PageHeader, Pager, TableHead, Time, useAction, useLoad } from './ui.js';

/** API keys: the list (never secrets), revoke, and create, which shows the new key once. */
export function ApiKeysPage() {
  const [page, setPage] = useState(1);
  const keys = useLoad(() => call('listApiKeys', { query: { page: String(page) } }), [page]);
  const action = useAction();
  const [created, setCreated] = useState<CreatedApiKey>();
  const [name, setName] = useState('');
  const [roles, setRoles] = useState<Role[]>([Role.Administrator]);
  const [expiresAt, setExpiresAt] = useState('');
  const [pools, setPools] = useState('');

  const create = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const poolList = pools
        .split(',')
        .map((pool) => pool.trim())
        .filter(Boolean);
      const key = await call('createApiKey', {
        body: {
          name,
          roles,
          ...(expiresAt ? { expiresAt: new Date(expiresAt).toISOString() } : {}),
          ...(poolList.length > 0 ? { pools: poolList } : {}),
        },
      });
      setCreated(key);
      setName('');
      await keys.reload();
    });
  };
  const revoke = (id: string, keyName: string) =>
    action.run(async () => {
      if (!confirm(`Revoke the key “${keyName}”? Whoever uses it is refused at once.`)) return;
      await call('deleteApiKey', { id });
      await keys.reload();
    });
  const toggleRole = (role: Role, on: boolean) =>
    setRoles((current) => (on ? [...current, role] : current.filter((other) => other !== role)));

  return (
    <>
      <PageHeader title="API keys" />
      {created && (
        <div class="notice" role="status">
          <p>
            <strong>Key “{created.name}” created.</strong> Copy it now: it is not shown again.
          </p>
          <p>
            <code class="secret">{created.key}</code>{' '}
            <button type="button" onClick={() => navigator.clipboard?.writeText(created.key)}>
              Copy
            </button>{' '}
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </p>
        </div>
      )}
      <form class="filters" onSubmit={create} aria-label="Create an API key">
        <div class="field">
          <label for="key-name">Name</label>
          <input
            id="key-name"
            required
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </div>
        <fieldset class="statuses">
          <legend>Roles</legend>
          {Object.values(Role).map((role) => (
            <label key={role} class="inline">
              <input
                type="checkbox"
                checked={roles.includes(role)}
                onChange={(event) => toggleRole(role, event.currentTarget.checked)}
              />
              {role}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="key-expires">Expires (optional)</label>
          <input
            id="key-expires"
            type="datetime-local"
            value={expiresAt}
            onInput={(event) => setExpiresAt(event.currentTarget.value)}
          />
        </div>
        {roles.includes(Role.Worker) && (
          <div class="field">
            <label for="key-pools">Pools (comma-separated; empty: all)</label>
            <input id="key-pools" value={pools} onInput={(event) => setPools(event.currentTarget.value)} />
          </div>
        )}
        <button type="submit" class="primary" disabled={action.busy}>
          Create key
        </button>
      </form>
      <ErrorMessage loaded={keys} />
      <ErrorMessage error={action.error} />
      {keys.data && (
        <>
          <table>
            <TableHead
              columns={[
                'Name',
                'Roles',
                'Key starts',
                'Created',
                'Expires',
                'Pools',
                <span key="actions" class="visually-hidden">
                  Actions
                </span>,
              ]}
            />
            <tbody>
              {keys.data.items.map((key) => (
                <tr key={key.id}>
                  <td>{key.name}</td>
                  <td>{key.roles.join(', ')}</td>
                  <td>
                    <code>{key.keyPrefix}…</code>
                  </td>
                  <td>
                    <Time at={key.created} />
                  </td>
                  <td>
                    <Time at={key.expiresAt} />
                  </td>
                  <td>{key.pools?.join(', ') ?? <span class="muted">all</span>}</td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      disabled={action.busy}
                      onClick={() => revoke(key.id, key.name)}
                    >
                      Revoke<span class="visually-hidden"> {key.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager info={keys.data} onPage={setPage} />
        </>
      )}
    </>
  );
}
