import { Fragment } from 'preact';
import { ExecutionStatus, InitiatedByType, type StepStatus } from '../../core/model.js';
import type { ExecutionStep } from '../../core/schemas/execution.js';
import { stagesOf } from '../../core/stages.js';
import {
  isActiveExecutionStatus,
  RETRYABLE_EXECUTION_STATUSES,
  STAGE_FAILING_STEP_STATUSES,
  TERMINAL_STEP_STATUSES,
} from '../../core/transitions.js';
import { call } from './api.js';
import {
  Duration,
  ErrorMessage,
  href,
  navigate,
  PageHeader,
  Status,
  Time,
  useAction,
  useLoad,
} from './ui.js';

/**
 * One execution, live: its stages as a timeline (the steps of a stage side by side), each step's
 * status, times, activity, progress and output, refreshed every two seconds until it ends.
 */

const LIVE_REFRESH_MS = 2000;

/** A step that ended and does not fail its stage; the failing ones are the orchestrator's own list. */
const GOOD_ENDS: readonly StepStatus[] = TERMINAL_STEP_STATUSES.filter(
  (status) => !STAGE_FAILING_STEP_STATUSES.includes(status),
);

/** The stage's dot on the timeline: under way, ended well, ended badly, or not reached. */
const stageState = (stage: readonly ExecutionStep[], current: boolean) =>
  current
    ? 'current'
    : stage.some((step) => STAGE_FAILING_STEP_STATUSES.includes(step.status))
      ? 'bad'
      : stage.every((step) => GOOD_ENDS.includes(step.status))
        ? 'good'
        : 'pending';

function StepCard({ step }: { step: ExecutionStep }) {
  return (
    <li class={`step-card step-${step.status.replace(/\s+/g, '-').toLowerCase()}`} aria-label={step.name}>
      <div class="step-head">
        <strong>{step.name}</strong>
        <Status value={step.status} />
      </div>
      <div class="small muted">
        {step.stepType} · pool {step.workerPool}
        {step.workerId && ` · worker ${step.workerId}`}
        {step.carriedOver && ' · carried over from the original run'}
      </div>
      <dl class="step-facts small">
        <dt>Started</dt>
        <dd>
          <Time at={step.startedAt} />
        </dd>
        <dt>Took</dt>
        <dd>
          <Duration from={step.startedAt} to={step.completedAt} />
        </dd>
        {step.activityStatus && (
          <>
            <dt>Activity</dt>
            <dd>
              {step.activityStatus}
              {step.activityId && <code> {step.activityId}</code>}
            </dd>
          </>
        )}
        {step.lastHeartbeatAt && !step.completedAt && (
          <>
            <dt>Last heartbeat</dt>
            <dd>
              <Time at={step.lastHeartbeatAt} />
            </dd>
          </>
        )}
      </dl>
      {step.progressMessage && <p class="progress small">{step.progressMessage}</p>}
      {step.errorMessage && (
        <p class={`${GOOD_ENDS.includes(step.status) ? 'warn-text' : 'error-text'} small`}>
          {step.errorMessage}
        </p>
      )}
      {step.output && (
        <details open>
          <summary>Output</summary>
          <pre class="output">{step.output}</pre>
        </details>
      )}
    </li>
  );
}

export function ExecutionView({ id }: { id: string }) {
  const execution = useLoad(
    () => call('getExecution', { id }),
    [id],
    LIVE_REFRESH_MS,
    (data) => isActiveExecutionStatus(data.status),
  );
  const action = useAction();
  const data = execution.data;
  const act = (operation: 'cancelExecution' | 'pauseExecution' | 'resumeExecution') =>
    action.run(async () => {
      if (
        operation === 'cancelExecution' &&
        !confirm('Cancel this execution? Running steps are told to stop.')
      )
        return;
      await call(operation, { id });
      await execution.reload();
    });
  const retry = () =>
    action.run(async () => {
      const started = await call('retryExecution', { id, body: {} });
      navigate(`/executions/${started.executionId}`);
    });
  const status = data?.status;
  return (
    <>
      <PageHeader title={data ? data.scheduleName : 'Execution'}>
        {status && isActiveExecutionStatus(status) && (
          <button type="button" class="danger" disabled={action.busy} onClick={() => act('cancelExecution')}>
            Cancel
          </button>
        )}
        {status === ExecutionStatus.InProgress && (
          <button type="button" disabled={action.busy} onClick={() => act('pauseExecution')}>
            Pause
          </button>
        )}
        {status === ExecutionStatus.Paused && (
          <button type="button" disabled={action.busy} onClick={() => act('resumeExecution')}>
            Resume
          </button>
        )}
        {status && RETRYABLE_EXECUTION_STATUSES.includes(status) && (
          <button type="button" class="primary" disabled={action.busy} onClick={retry}>
            Retry
          </button>
        )}
      </PageHeader>
      <ErrorMessage loaded={execution} />
      <ErrorMessage error={action.error} />
      {data && (
        <>
          <p class="summary" aria-live="polite">
            <Status value={data.status} /> Stage {Math.min(data.currentStepIndex + 1, data.totalSteps)} of{' '}
            {data.totalSteps}
            {isActiveExecutionStatus(data.status) && <span class="muted"> · live</span>}
          </p>
          {data.errorMessage && (
            <p class="error" role="status">
              {data.errorMessage}
            </p>
          )}
          <dl class="facts">
            <dt>Execution</dt>
            <dd>
              <code>{data.id}</code>
            </dd>
            <dt>Schedule</dt>
            <dd>
              <a href={href(`/schedules/${data.scheduleId}`)}>{data.scheduleName}</a>
            </dd>
            <dt>Queued</dt>
            <dd>
              <Time at={data.queuedAt} />
            </dd>
            <dt>Started</dt>
            <dd>
              <Time at={data.startedAt} />
            </dd>
            <dt>Completed</dt>
            <dd>
              <Time at={data.completedAt} />
            </dd>
            <dt>Duration</dt>
            <dd>
              <Duration from={data.startedAt} to={data.completedAt} />
            </dd>
            <dt>Initiated by</dt>
            <dd>
              {data.initiatedByType === InitiatedByType.NotSet
                ? `Cron${data.scheduledFor ? ` (fire time ${new Date(data.scheduledFor).toLocaleString()})` : ''}`
                : `${data.initiatedByName ?? data.initiatedById} (${data.initiatedByType})`}
            </dd>
            {data.cancelledByName && (
              <>
                <dt>Cancelled by</dt>
                <dd>{data.cancelledByName}</dd>
              </>
            )}
            {(
              [
                ['Retry of', data.retryOfExecutionId, 'the earlier execution'],
                ['Retried by', data.retriedByExecutionId, 'the latest retry'],
              ] as const
            ).map(
              ([term, linked, text]) =>
                linked && (
                  <Fragment key={term}>
                    <dt>{term}</dt>
                    <dd>
                      <a href={href(`/executions/${linked}`)}>{text}</a>
                    </dd>
                  </Fragment>
                ),
            )}
          </dl>
          <h2>Timeline</h2>
          <ol class="stages timeline">
            {stagesOf(data.steps).map((stage) => {
              const index = stage[0]?.stepIndex ?? 0;
              return (
                <li
                  key={index}
                  class={`stage stage-${stageState(stage, index === data.currentStepIndex && isActiveExecutionStatus(data.status))}`}
                  aria-label={`Stage ${index + 1}${stage.length > 1 ? `, ${stage.length} steps in parallel` : ''}`}
                >
                  <span class="stage-label">
                    Stage {index + 1}
                    {stage.length > 1 && <span class="muted"> · parallel</span>}
                  </span>
                  <ul class="stage-steps">
                    {stage.map((step) => (
                      <StepCard key={step.stepId} step={step} />
                    ))}
                  </ul>
                </li>
              );
            })}
          </ol>
        </>
      )}
    </>
  );
}
