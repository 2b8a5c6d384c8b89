import { useState } from 'preact/hooks';
import { TriggerType } from '../../core/model.js';
import type { ScheduleSortBy, ScheduleStep, ScheduleSummary } from '../../core/schemas/schedule.js';
import { stagesOf } from '../../core/stages.js';
import { call } from './api.js';
import { ExecutionTable } from './execution-table.js';
import {
  ErrorMessage,
  href,
  InputField,
  navigate,
  PageHeader,
  Pager,
  Status,
  TableHead,
  Time,
  useAction,
  useLoad,
} from './ui.js';

/** The schedules list (search, enabled, next run, last status) and one schedule's page. */

const REFRESH_MS = 10_000;

/** Every sort the API offers (a Record, so tsc flags one added or removed there). */
const SORT_LABEL: Record<ScheduleSortBy, string> = {
  name: 'Name',
  enabled: 'Enabled',
  nextRunTime: 'Next run',
  lastRunTime: 'Last run',
  created: 'Created',
};

const trigger = (schedule: Pick<ScheduleSummary, 'triggerType' | 'cronExpression' | 'timeZone'>) =>
  schedule.triggerType === TriggerType.Cron ? (
    <span>
      <code>{schedule.cronExpression}</code> <span class="muted">{schedule.timeZone}</span>
    </span>
  ) : (
    <span class="muted">Manual</span>
  );

/** Run now: the new execution's page, or the refusal (the overlap policy's 409 names the active one). */
function useScheduleActions(onChange: () => Promise<void>) {
  const action = useAction();
  return {
    ...action,
    runNow: (id: string) =>
      action.run(async () => {
        const started = await call('runSchedule', { id });
        navigate(`/executions/${started.executionId}`);
      }),
    toggle: (schedule: ScheduleSummary) =>
      action.run(async () => {
        await call(schedule.isEnabled ? 'disableSchedule' : 'enableSchedule', { id: schedule.id });
        await onChange();
      }),
  };
}

export function SchedulesPage({ query }: { query: URLSearchParams }) {
  const search = query.get('search') ?? '';
  const page = query.get('page') ?? '1';
  const sortBy = (query.get('sortBy') ?? 'name') as ScheduleSortBy;
  const sortDescending = query.get('sortDescending') === 'true' ? 'true' : 'false';
  const [typed, setTyped] = useState(search);
  const list = useLoad(
    () => call('listSchedules', { query: { search, page, sortBy, sortDescending } }),
    [search, page, sortBy, sortDescending],
    REFRESH_MS,
  );
  const show = (patch: Record<string, string | undefined>) =>
    navigate('/schedules', {
      search: search || undefined,
      sortBy,
      sortDescending: sortDescending === 'true' ? 'true' : undefined,
      ...patch,
    });
  const actions = useScheduleActions(list.reload);
  return (
    <>
      <PageHeader title="Schedules">
        <a class="button primary" href={href('/schedules/new')}>
          New schedule
        </a>
      </PageHeader>
      <form
        class="filters"
        aria-label="Search schedules"
        onSubmit={(event) => {
          event.preventDefault();
          show({ search: typed.trim() || undefined, page: undefined });
        }}
      >
        <InputField
          id="schedule-search"
          label="Search name or description"
          value={typed}
          onValue={setTyped}
        />
        <button type="submit">Search</button>
        <div class="field">
          <label for="schedule-sort">Sort by</label>
          <select
            id="schedule-sort"
            onChange={(event) => show({ sortBy: event.currentTarget.value, page: undefined })}
          >
            {Object.entries(SORT_LABEL).map(([value, label]) => (
              <option key={value} value={value} selected={value === sortBy}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <label class="inline">
          <input
            type="checkbox"
            checked={sortDescending === 'true'}
            onChange={(event) => show({ sortDescending: event.currentTarget.checked ? 'true' : undefined })}
          />
          Descending
        </label>
      </form>
      <ErrorMessage loaded={list} />
      <ErrorMessage error={actions.error} />
      {list.data?.totalCount === 0 && !search && (
        <div class="empty">
          <p>No schedules yet. A schedule is a named list of steps run on a cron or on demand.</p>
          <a class="button primary" href={href('/schedules/new')}>
            Create schedule
          </a>
        </div>
      )}
      {list.data && (list.data.totalCount > 0 || search) && (
        <>
          <table>
            <TableHead columns={['Name', 'Trigger', 'Enabled', 'Next run', 'Last status', 'Actions']} />
            <tbody>
              {list.data.items.map((schedule) => (
                <tr key={schedule.id}>
                  <td>
                    <a href={href(`/schedules/${schedule.id}`)}>{schedule.name}</a>
                    {schedule.description && <div class="muted small">{schedule.description}</div>}
                  </td>
                  <td>{trigger(schedule)}</td>
                  <td>{schedule.isEnabled ? 'Yes' : 'No'}</td>
                  <td>
                    <Time at={schedule.nextRunTime} />
                  </td>
                  <td>
                    {schedule.lastExecutionId ? (
                      <a href={href(`/executions/${schedule.lastExecutionId}`)}>
                        <Status value={schedule.lastExecutionStatus} />
                      </a>
                    ) : (
                      <span class="muted">Never run</span>
                    )}
                  </td>
                  <td>
                    <div class="row-actions">
                      <button
                        type="button"
                        disabled={actions.busy}
                        onClick={() => actions.runNow(schedule.id)}
                      >
                        Run now<span class="visually-hidden"> {schedule.name}</span>
                      </button>
                      <button type="button" disabled={actions.busy} onClick={() => actions.toggle(schedule)}>
                        {schedule.isEnabled ? 'Disable' : 'Enable'}
                        <span class="visually-hidden"> {schedule.name}</span>
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.items.length === 0 && (
            <p class="muted">No schedules{search ? ` match “${search}”` : ''}.</p>
          )}
          <Pager info={list.data} onPage={(next) => show({ page: String(next) })} />
        </>
      )}
    </>
  );
}

const stepTarget = (step: ScheduleStep): string => {
  switch (step.stepType) {
    case 'RunProfile':
      return `system ${step.connectedSystemId}: ${step.runProfileName}`;
    case 'PowerShell':
      return [step.scriptPath, step.arguments].filter(Boolean).join(' ');
    case 'Executable':
      return [step.executablePath, step.arguments].filter(Boolean).join(' ');
    case 'SqlScript':
      return `${step.sqlConnection}: ${step.sqlScriptPath}`;
  }
};

export function ScheduleDetail({ id }: { id: string }) {
  const schedule = useLoad(() => call('getSchedule', { id }), [id], REFRESH_MS);
  const isCron = schedule.data?.triggerType === TriggerType.Cron;
  const nextRuns = useLoad(
    async () => (isCron ? call('getNextRuns', { id, query: { count: '10' } }) : undefined),
    [id, isCron, schedule.data?.cronExpression, schedule.data?.timeZone],
  );
  const recent = useLoad(
    () => call('listExecutions', { query: { scheduleId: id, pageSize: '10' } }),
    [id],
    REFRESH_MS,
  );
  const actions = useScheduleActions(schedule.reload);
  const data = schedule.data;
  const remove = () =>
    actions.run(async () => {
      if (!data || !confirm(`Delete the schedule “${data.name}”? Its executions stay readable.`)) return;
      await call('deleteSchedule', { id });
      navigate('/schedules');
    });
  return (
    <>
      <PageHeader title={data?.name ?? 'Schedule'}>
        {data && (
          <>
            <button type="button" class="primary" disabled={actions.busy} onClick={() => actions.runNow(id)}>
              Run now
            </button>
            <a class="button" href={href(`/schedules/${id}/edit`)}>
              Edit
            </a>
            <button type="button" disabled={actions.busy} onClick={() => actions.toggle(data)}>
              {data.isEnabled ? 'Disable' : 'Enable'}
            </button>
            <button type="button" class="danger" disabled={actions.busy} onClick={remove}>
              Delete
            </button>
          </>
        )}
      </PageHeader>
      <ErrorMessage loaded={schedule} />
      <ErrorMessage error={actions.error} />
      {data && (
        <>
          {data.description && <p>{data.description}</p>}
          <dl class="facts">
            <dt>Trigger</dt>
            <dd>{trigger(data)}</dd>
            <dt>Enabled</dt>
            <dd>{data.isEnabled ? 'Yes' : 'No'}</dd>
            <dt>Overlap policy</dt>
            <dd>{data.overlapPolicy}</dd>
            <dt>Catch-up window</dt>
            <dd>{data.catchupWindowSeconds}s</dd>
            <dt>Next run</dt>
            <dd>
              <Time at={data.nextRunTime} />
            </dd>
            <dt>Last run</dt>
            <dd>
              <Time at={data.lastRunTime} />{' '}
              {data.lastExecutionId && (
                <a href={href(`/executions/${data.lastExecutionId}`)}>
                  <Status value={data.lastExecutionStatus} />
                </a>
              )}
            </dd>
            <dt>Skipped / missed fire times</dt>
            <dd>
              {data.skippedCount} / {data.missedCount}
            </dd>
          </dl>
          <h2>Steps</h2>
          {data.steps.length === 0 && <p class="muted">No steps.</p>}
          <ol class="stages">
            {stagesOf(data.steps).map((stage) => (
              <li key={stage[0]?.stepIndex} class="stage">
                <span class="stage-label">Stage {(stage[0]?.stepIndex ?? 0) + 1}</span>
                <ul class="stage-steps">
                  {stage.map((step) => (
                    <li key={step.id} class="step-card">
                      <strong>{step.name}</strong>
                      <div class="small">
                        {step.stepType} · pool {step.workerPool} · timeout {step.timeoutSeconds}s
                        {step.continueOnFailure && ' · continues on failure'}
                      </div>
                      <code class="small">{stepTarget(step)}</code>
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ol>
          {isCron && (
            <>
              <h2>Next fire times</h2>
              <ErrorMessage loaded={nextRuns} />
              {nextRuns.data && (
                <>
                  {!nextRuns.data.isEnabled && (
                    <p class="muted">Disabled: these are the times it would fire if enabled now.</p>
                  )}
                  <ol class="next-runs">
                    {nextRuns.data.nextRuns.map((at) => (
                      <li key={at}>
                        <Time at={at} />
                      </li>
                    ))}
                  </ol>
                </>
              )}
            </>
          )}
          <h2>Recent executions</h2>
          <ErrorMessage loaded={recent} />
          {recent.data && (
            <ExecutionTable executions={recent.data.items} showSchedule={false} empty="Not run yet." />
          )}
          <p>
            <a href={href('/executions', { scheduleId: id })}>All executions of this schedule</a>
          </p>
        </>
      )}
    </>
  );
}
