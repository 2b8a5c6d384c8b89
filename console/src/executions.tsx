import { useEffect, useState } from 'preact/hooks';
import { ExecutionStatus, type InitiatedByType } from '../../core/model.js';
import type { Execution, ExecutionSortBy } from '../../core/schemas/execution.js';
import { call, type QueryOf } from './api.js';
import { ExecutionTable } from './execution-table.js';
import { ErrorMessage, Field, href, navigate, PageHeader, Pager, useAction, useLoad } from './ui.js';

/** Executions: the list with the contract's filters and both paging styles, and the active ones. */

type Filters = Pick<
  NonNullable<QueryOf<'listExecutions'>>,
  | 'scheduleId'
  | 'status'
  | 'initiatedByType'
  | 'from'
  | 'to'
  | 'sortBy'
  | 'sortDescending'
  | 'pageSize'
  | 'page'
>;

const FILTER_NAMES = [
  'scheduleId',
  'status',
  'initiatedByType',
  'from',
  'to',
  'sortBy',
  'sortDescending',
  'pageSize',
] as const;

/** `datetime-local` shows the operator's zone; the API wants an instant. */
const toInstant = (local: string) => (local ? new Date(local).toISOString() : undefined);
const toLocalInput = (iso: string | null) => {
  if (!iso) return '';
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

const REFRESH_MS = 10_000;

/** Who can start an execution, in the operator's words (a Record: tsc flags a type added to the model). */
const INITIATOR_LABEL: Record<InitiatedByType, string> = {
  ApiKey: 'API key',
  User: 'User',
  NotSet: 'Cron',
};

/** Every sort the API offers (a Record, so tsc flags one added or removed there). */
const SORT_LABEL: Record<ExecutionSortBy, string> = {
  queuedAt: 'Queued',
  startedAt: 'Started',
  completedAt: 'Completed',
  status: 'Status',
};

export function ExecutionsPage({ query }: { query: URLSearchParams }) {
  const filters: Filters = Object.fromEntries(
    [...FILTER_NAMES, 'page'].flatMap((name) => (query.get(name) ? [[name, query.get(name)]] : [])),
  );
  const continuous = query.get('paging') === 'token';
  const key = query.toString();
  // "Load more" walks with nextToken and keeps what it loaded; page numbers load one page each.
  const [more, setMore] = useState<{ items: Execution[]; nextToken: string | undefined }>();
  const list = useLoad(
    () => call('listExecutions', { query: continuous ? { ...filters, page: undefined } : filters }),
    [key],
    continuous ? 0 : REFRESH_MS,
  );
  useEffect(() => setMore(undefined), [key]);
  const loadingMore = useAction();
  const loadMore = (nextToken: string) =>
    loadingMore.run(async () => {
      const next = await call('listExecutions', { query: { ...filters, page: undefined, nextToken } });
      setMore((current) => ({
        items: [...(current?.items ?? []), ...next.items],
        nextToken: next.nextToken,
      }));
    });
  // The filter's choices: schedules by name (a deleted schedule's executions stay filterable by id).
  const schedules = useLoad(() => call('listSchedules', { query: { pageSize: '100', sortBy: 'name' } }), []);
  const selected = new Set((filters.status ?? '').split(',').filter(Boolean));
  const update = (patch: Record<string, string | undefined>) =>
    navigate('/executions', { ...Object.fromEntries(query), page: undefined, ...patch });

  const onFilter = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => (form.get(name) as string | null) || undefined;
    update({
      scheduleId: text('scheduleId'),
      status: form.getAll('status').join(',') || undefined,
      initiatedByType: text('initiatedByType'),
      from: toInstant(text('from') ?? ''),
      to: toInstant(text('to') ?? ''),
      sortBy: text('sortBy'),
      sortDescending: form.get('sortAscending') ? 'false' : undefined,
      pageSize: text('pageSize'),
    });
  };

  const items = [...(list.data?.items ?? []), ...(more?.items ?? [])];
  const nextToken = more ? more.nextToken : list.data?.nextToken;
  return (
    <>
      <PageHeader title="Executions" />
      {/* Keyed so its defaults follow the address, and the schedule choice once the names arrive; selects
          start from `selected` options, since a select element has no defaultValue. */}
      <form class="filters" onSubmit={onFilter} key={`${key}|${schedules.data ? 'named' : ''}`}>
        <fieldset class="statuses">
          <legend>Status</legend>
          {Object.values(ExecutionStatus).map((status) => (
            <label key={status} class="inline">
              <input type="checkbox" name="status" value={status} defaultChecked={selected.has(status)} />
              {status}
            </label>
          ))}
        </fieldset>
        <div class="field">
          <label for="filter-schedule">Schedule</label>
          <select id="filter-schedule" name="scheduleId">
            <option value="">All schedules</option>
            {schedules.data?.items.map((schedule) => (
              <option key={schedule.id} value={schedule.id} selected={schedule.id === filters.scheduleId}>
                {schedule.name}
              </option>
            ))}
            {filters.scheduleId &&
              !schedules.data?.items.some((schedule) => schedule.id === filters.scheduleId) && (
                <option value={filters.scheduleId} selected>
                  {filters.scheduleId} (deleted or not listed)
                </option>
              )}
          </select>
        </div>
        <div class="field">
          <label for="filter-initiated">Initiated by</label>
          <select id="filter-initiated" name="initiatedByType">
            <option value="">Anyone</option>
            {Object.entries(INITIATOR_LABEL).map(([type, label]) => (
              <option key={type} value={type} selected={type === filters.initiatedByType}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {(['from', 'to'] as const).map((bound) => (
          <div class="field" key={bound}>
            <label for={`filter-${bound}`}>Queued {bound}</label>
            <input
              id={`filter-${bound}`}
              name={bound}
              type="datetime-local"
              defaultValue={toLocalInput(filters[bound] ?? null)}
            />
          </div>
        ))}
        <div class="field">
          <label for="filter-sort">Sort by</label>
          <select id="filter-sort" name="sortBy">
            {Object.entries(SORT_LABEL).map(([sortBy, label]) => (
              <option key={sortBy} value={sortBy} selected={sortBy === (filters.sortBy ?? 'queuedAt')}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <Field id="filter-page-size" label="Per page" hint="1 to 100">
          {(control) => (
            <input
              {...control}
              name="pageSize"
              type="number"
              min={1}
              max={100}
              defaultValue={filters.pageSize}
            />
          )}
        </Field>
        <label class="inline">
          <input type="checkbox" name="sortAscending" defaultChecked={filters.sortDescending === 'false'} />
          Oldest first
        </label>
        <button type="submit">Apply</button>
        <a class="button" href={href('/executions')}>
          Clear
        </a>
      </form>
      <p class="paging-style">
        Paging:{' '}
        {continuous ? (
          <a href={href('/executions', { ...Object.fromEntries(query), paging: undefined })}>page numbers</a>
        ) : (
          <strong>page numbers</strong>
        )}{' '}
        ·{' '}
        {continuous ? (
          <strong>load more (nextToken)</strong>
        ) : (
          <a href={href('/executions', { ...Object.fromEntries(query), page: undefined, paging: 'token' })}>
            load more (nextToken)
          </a>
        )}
      </p>
      <ErrorMessage loaded={list} />
      {list.data && (
        <>
          <ExecutionTable
            executions={items}
            empty={
              FILTER_NAMES.some((name) => filters[name] && name !== 'pageSize')
                ? 'No executions match these filters.'
                : 'No executions yet: run a schedule and it appears here.'
            }
          />
          {continuous ? (
            <p>
              {nextToken ? (
                <button type="button" disabled={loadingMore.busy} onClick={() => loadMore(nextToken)}>
                  Load more
                </button>
              ) : (
                <span class="muted">All {list.data.totalCount} shown.</span>
              )}
            </p>
          ) : (
            <Pager info={list.data} onPage={(page) => update({ page: String(page) })} />
          )}
          <ErrorMessage error={loadingMore.error} />
        </>
      )}
    </>
  );
}

export function ActiveExecutionsPage() {
  const active = useLoad(() => call('listActiveExecutions'), [], 3000);
  return (
    <>
      <PageHeader title="Active executions" />
      <p class="muted">Queued, in progress and paused, oldest first. Refreshes every few seconds.</p>
      <ErrorMessage loaded={active} />
      {active.data && (
        <ExecutionTable executions={active.data} empty="Nothing is queued, running or paused." />
      )}
    </>
  );
}
