import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ExecutionStatus, StepStatus } from '../../core/model.js';
import { ApiError } from './api.js';

/** What every page shares: the hash router, polling, times, statuses, errors, the pager. */

/** `#/executions/abc?status=Failed` → path segments and query. Hash routes need no server rewrites. */
export interface Location {
  path: string[];
  query: URLSearchParams;
}

const readHash = (): Location => {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
};

export function useHashLocation(): Location {
  const [current, setCurrent] = useState(readHash);
  useEffect(() => {
    const onChange = () => setCurrent(readHash());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return current;
}

export const href = (path: string, query?: Record<string, string | undefined>) => {
  const params = new URLSearchParams(
    Object.entries(query ?? {}).filter((entry): entry is [string, string] => !!entry[1]),
  );
  return `#${path}${params.size > 0 ? `?${params}` : ''}`;
};
export const navigate = (path: string, query?: Record<string, string | undefined>) => {
  location.hash = href(path, query);
};

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** When `data` arrived: once a refresh fails, the page says how old what it shows is. */
  loadedAt: Date | undefined;
  reload: () => Promise<void>;
}

/**
 * Loads, then reloads every `everyMs` while `live` says so. The last data stays on screen while a
 * refresh runs (no spinner flashes), and a refresh waits while the tab is hidden.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
  everyMs = 0,
  live?: (data: T) => boolean,
) {
  const [data, setData] = useState<T>();
  const [loadedAt, setLoadedAt] = useState<Date>();
  const [error, setError] = useState<ApiError>();
  const loadRef = useRef(load);
  loadRef.current = load;
  // Only the latest load may land: a slow answer for the previous page or id must not overwrite it.
  const latest = useRef(0);
  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    try {
      const loaded = await loadRef.current();
      if (ticket !== latest.current) return;
      setData(loaded);
      setLoadedAt(new Date());
      setError(undefined);
    } catch (caught) {
      if (ticket !== latest.current) return;
      setError(caught instanceof ApiError ? caught : new ApiError(0, undefined, { cause: caught }));
    }
  }, []);
  useEffect(() => {
    setData(undefined);
    setLoadedAt(undefined);
    void reload();
  }, deps);
  const keepPolling = everyMs > 0 && (data === undefined || !live || live(data));
  useEffect(() => {
    if (!keepPolling) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void reload();
    }, everyMs);
    return () => clearInterval(timer);
  }, [keepPolling, everyMs, reload]);
  return { data, error, loadedAt, reload } satisfies Loaded<T>;
}

/** Runs an action (a button's click), keeping its error for display and its busy flag for the button. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const run = async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, undefined, { cause: caught }));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/**
 * What went wrong, in the contract's words. Given `loaded` (a page's load), it also offers to try
 * again, and after a failed refresh says how old the data still on screen is (polling retries too).
 */
export function ErrorMessage<T>({ error, loaded }: { error?: ApiError | undefined; loaded?: Loaded<T> }) {
  const shown = loaded?.error ?? error;
  if (!shown) return null;
  const fields = Object.entries(shown.validationErrors);
  return (
    <div class="error" role="alert">
      <strong>{shown.body?.code ?? (shown.status === 0 ? 'Network error' : `HTTP ${shown.status}`)}</strong>{' '}
      {shown.message}
      {fields.length > 0 && (
        <ul>
          {fields.map(([field, messages]) => (
            <li key={field}>
              <code>{field}</code>: {messages.join('; ')}
            </li>
          ))}
        </ul>
      )}
      {loaded && (
        <p class="error-actions">
          {loaded.loadedAt && (
            <span>
              Showing what was loaded at{' '}
              <time dateTime={loaded.loadedAt.toISOString()}>{loaded.loadedAt.toLocaleTimeString()}</time>.{' '}
            </span>
          )}
          <button type="button" onClick={() => void loaded.reload()}>
            Try again
          </button>
        </p>
      )}
    </div>
  );
}

/**
 * A labelled form control with its hint and the API's messages for it, tied to the control by
 * `aria-describedby` and `aria-invalid`, so a screen reader reads the problem with the field.
 */
export interface FieldProps {
  id: string;
  label: string;
  hint?: string;
  messages?: readonly string[] | undefined;
  class?: string;
}

export function Field({
  id,
  label,
  hint,
  messages,
  class: className = 'field',
  children,
}: FieldProps & {
  children: (control: {
    id: string;
    'aria-invalid'?: true;
    'aria-describedby'?: string;
  }) => ComponentChildren;
}) {
  const described = [hint && `${id}-hint`, messages && `${id}-error`].filter(Boolean).join(' ');
  const control = {
    id,
    ...(messages ? { 'aria-invalid': true as const } : {}),
    ...(described ? { 'aria-describedby': described } : {}),
  };
  return (
    <div class={className}>
      <label for={id}>{label}</label>
      {children(control)}
      {hint && (
        <span id={`${id}-hint`} class="hint">
          {hint}
        </span>
      )}
      {messages && (
        <span id={`${id}-error`} class="field-error">
          {messages.join('; ')}
        </span>
      )}
    </div>
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A time in the operator's zone, with the exact UTC instant on hover. */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">—</span>;
  return (
    <time dateTime={at} title={at}>
      {dateTime.format(new Date(at))}
    </time>
  );
}

export const formatDuration = (ms: number): string => {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
};

/** How long it ran, or has been running. */
export function Duration({ from, to }: { from: string | null; to: string | null }) {
  if (!from) return <span class="muted">—</span>;
  return <span>{formatDuration((to ? Date.parse(to) : Date.now()) - Date.parse(from))}</span>;
}

const TONE: Record<string, string> = {
  [ExecutionStatus.Queued]: 'waiting',
  [ExecutionStatus.InProgress]: 'running',
  [ExecutionStatus.Paused]: 'waiting',
  [ExecutionStatus.Completed]: 'good',
  [ExecutionStatus.Failed]: 'bad',
  [ExecutionStatus.Cancelled]: 'neutral',
  [StepStatus.Pending]: 'neutral',
  [StepStatus.Processing]: 'running',
  [StepStatus.Waiting]: 'waiting',
  [StepStatus.CompletedWithWarning]: 'warn',
  [StepStatus.CompletedWithError]: 'bad',
  Online: 'good',
  Offline: 'neutral',
};

/** A status in words (never colour alone), tinted by what it means. */
export function Status({ value }: { value: string | null | undefined }) {
  if (!value) return <span class="muted">—</span>;
  return <span class={`status status-${TONE[value] ?? 'neutral'}`}>{value}</span>;
}

export interface PageInfo {
  page: number;
  totalPages: number;
  totalCount: number;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

export function Pager({ info, onPage }: { info: PageInfo; onPage: (page: number) => void }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={!info.hasPreviousPage} onClick={() => onPage(info.page - 1)}>
        ← Previous
      </button>
      <span>
        Page {info.page} of {Math.max(1, info.totalPages)} ({info.totalCount} in all)
      </span>
      <button type="button" disabled={!info.hasNextPage} onClick={() => onPage(info.page + 1)}>
        Next →
      </button>
    </nav>
  );
}

/**
 * The common case of {@link Field}: one value, typed in, or chosen among `options` (an enum of the
 * model, each shown by its label or else its value).
 */
export function InputField<V extends string>({
  value,
  onValue,
  options,
  labels,
  id,
  label,
  hint,
  messages,
  class: className,
  ...attributes
}: FieldProps & {
  value: V;
  onValue: (value: V) => void;
  options?: readonly V[];
  labels?: Readonly<Record<V, string>>;
  required?: boolean;
  disabled?: boolean;
  inputMode?: 'numeric';
  placeholder?: string;
}) {
  return (
    <Field id={id} label={label} hint={hint} messages={messages} class={className}>
      {(control) =>
        options ? (
          <select
            {...control}
            {...attributes}
            value={value}
            onChange={(event) => onValue(event.currentTarget.value as V)}
          >
            {options.map((option) => (
              <option key={option} value={option}>
                {labels?.[option] ?? option}
              </option>
            ))}
          </select>
        ) : (
          <input
            {...control}
            {...attributes}
            value={value}
            onInput={(event) => onValue(event.currentTarget.value as V)}
          />
        )
      }
    </Field>
  );
}

/** A table's column headings; a heading may be markup (e.g. a visually hidden "Actions"). */
export function TableHead({ columns }: { columns: readonly (string | false | ComponentChildren)[] }) {
  return (
    <thead>
      <tr>
        {columns
          .filter((column) => column !== false)
          .map((column, i) => (
            <th key={typeof column === 'string' ? column : i} scope="col">
              {column}
            </th>
          ))}
      </tr>
    </thead>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Schedule execution service`;
  }, [title]);
  return (
    <div class="page-header">
      {/* Focusable from script only: a route change moves focus here (main.tsx). */}
      <h1 tabIndex={-1}>{title}</h1>
      {children && <div class="actions">{children}</div>}
    </div>
  );
}
