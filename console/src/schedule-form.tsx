import { useEffect, useState } from 'preact/hooks';
import { ExecutionMode, OverlapPolicy, StepType, TriggerType } from '../../core/model.js';
import type { Schedule } from '../../core/schemas/schedule.js';
import { type BodyOf, call } from './api.js';
import { ErrorMessage, Field, href, LoadError, navigate, PageHeader, useAction, useLoad } from './ui.js';

/**
 * Create or edit a schedule with its step list. The form holds every field as text; the API
 * validates (one set of rules, the schema's) and its `validationErrors` are shown as they come.
 */

type ScheduleBody = BodyOf<'createSchedule'>;
type StepBody = NonNullable<ScheduleBody['steps']>[number];

interface StepDraft {
  /** Kept across an edit, so the step keeps its id (PUT matches steps by id). */
  id: string | undefined;
  key: number;
  name: string;
  stepType: StepType;
  executionMode: ExecutionMode;
  continueOnFailure: boolean;
  timeoutSeconds: string;
  workerPool: string;
  connectedSystemId: string;
  runProfileName: string;
  path: string;
  arguments: string;
  workingDirectory: string;
  sqlConnection: string;
}

interface Draft {
  name: string;
  description: string;
  triggerType: TriggerType;
  cronExpression: string;
  timeZone: string;
  isEnabled: boolean;
  overlapPolicy: OverlapPolicy;
  catchupWindowSeconds: string;
  steps: StepDraft[];
}

let nextKey = 0;
const newStep = (): StepDraft => ({
  id: undefined,
  key: nextKey++,
  name: '',
  stepType: StepType.Executable,
  executionMode: ExecutionMode.Sequential,
  continueOnFailure: false,
  timeoutSeconds: '3600',
  workerPool: 'default',
  connectedSystemId: '',
  runProfileName: '',
  path: '',
  arguments: '',
  workingDirectory: '',
  sqlConnection: '',
});

const EMPTY: Draft = {
  name: '',
  description: '',
  triggerType: TriggerType.Manual,
  cronExpression: '',
  timeZone: 'UTC',
  isEnabled: false,
  overlapPolicy: OverlapPolicy.Skip,
  catchupWindowSeconds: '300',
  steps: [],
};

const draftOf = (schedule: Schedule): Draft => ({
  name: schedule.name,
  description: schedule.description ?? '',
  triggerType: schedule.triggerType,
  cronExpression: schedule.cronExpression ?? '',
  timeZone: schedule.timeZone,
  isEnabled: schedule.isEnabled,
  overlapPolicy: schedule.overlapPolicy,
  catchupWindowSeconds: String(schedule.catchupWindowSeconds),
  steps: schedule.steps.map((step) => ({
    ...newStep(),
    id: step.id,
    name: step.name,
    stepType: step.stepType,
    executionMode: step.executionMode,
    continueOnFailure: step.continueOnFailure,
    timeoutSeconds: String(step.timeoutSeconds),
    workerPool: step.workerPool,
    ...(step.stepType === StepType.RunProfile
      ? { connectedSystemId: String(step.connectedSystemId), runProfileName: step.runProfileName }
      : step.stepType === StepType.PowerShell
        ? { path: step.scriptPath, arguments: step.arguments ?? '' }
        : step.stepType === StepType.Executable
          ? {
              path: step.executablePath,
              arguments: step.arguments ?? '',
              workingDirectory: step.workingDirectory ?? '',
            }
          : { path: step.sqlScriptPath, sqlConnection: step.sqlConnection }),
  })),
});

/** Text → number for the API; what is not a number goes as typed, so the API names the field. */
const numeric = (text: string): number => (text.trim() === '' ? Number.NaN : Number(text));
const orNull = (text: string) => (text.trim() === '' ? null : text);

const stepBody = (step: StepDraft): StepBody => {
  const common = {
    ...(step.id ? { id: step.id } : {}),
    name: step.name,
    executionMode: step.executionMode,
    continueOnFailure: step.continueOnFailure,
    timeoutSeconds: numeric(step.timeoutSeconds),
    workerPool: step.workerPool,
  };
  switch (step.stepType) {
    case StepType.RunProfile:
      return {
        ...common,
        stepType: step.stepType,
        connectedSystemId: numeric(step.connectedSystemId),
        runProfileName: step.runProfileName,
      };
    case StepType.PowerShell:
      return { ...common, stepType: step.stepType, scriptPath: step.path, arguments: orNull(step.arguments) };
    case StepType.Executable:
      return {
        ...common,
        stepType: step.stepType,
        executablePath: step.path,
        arguments: orNull(step.arguments),
        workingDirectory: orNull(step.workingDirectory),
      };
    case StepType.SqlScript:
      return {
        ...common,
        stepType: step.stepType,
        sqlConnection: step.sqlConnection,
        sqlScriptPath: step.path,
      };
  }
};

const bodyOf = (draft: Draft): ScheduleBody => ({
  name: draft.name,
  description: orNull(draft.description),
  triggerType: draft.triggerType,
  cronExpression: draft.triggerType === TriggerType.Cron ? draft.cronExpression : null,
  timeZone: draft.timeZone,
  isEnabled: draft.isEnabled,
  overlapPolicy: draft.overlapPolicy,
  catchupWindowSeconds: numeric(draft.catchupWindowSeconds),
  steps: draft.steps.map(stepBody),
});

/** The one path field each type has: its label, and its name in the API (and so in `validationErrors`). */
const PATH_FIELD: Record<Exclude<StepType, 'RunProfile'>, { label: string; field: string }> = {
  PowerShell: { label: 'Script path', field: 'scriptPath' },
  Executable: { label: 'Executable path', field: 'executablePath' },
  SqlScript: { label: 'SQL script path', field: 'sqlScriptPath' },
};

/** The API's messages for one field, by its `validationErrors` name (`name`, `steps[0].name`). */
type Messages = (field: string) => string[] | undefined;

function StepFields({
  step,
  index,
  count,
  onChange,
  onMove,
  onRemove,
  messages,
}: {
  messages: Messages;
  step: StepDraft;
  index: number;
  count: number;
  onChange: (patch: Partial<StepDraft>) => void;
  onMove: (by: -1 | 1) => void;
  onRemove: () => void;
}) {
  const id = (field: string) => `step-${step.key}-${field}`;
  const text = (
    field: keyof StepDraft,
    label: string,
    extra: { required?: boolean; inputMode?: 'numeric'; apiField?: string } = {},
  ) => (
    <Field id={id(field)} label={label} messages={messages(`steps[${index}].${extra.apiField ?? field}`)}>
      {(control) => (
        <input
          {...control}
          value={String(step[field] ?? '')}
          required={extra.required}
          inputMode={extra.inputMode}
          onInput={(event) => onChange({ [field]: event.currentTarget.value })}
        />
      )}
    </Field>
  );
  return (
    <fieldset class="step-editor">
      <legend>
        Step {index + 1}
        {step.name ? `: ${step.name}` : ''}
      </legend>
      <div class="grid">
        {text('name', 'Name', { required: true })}
        <div class="field">
          <label for={id('type')}>Type</label>
          <select
            id={id('type')}
            value={step.stepType}
            onChange={(event) => onChange({ stepType: event.currentTarget.value as StepType })}
          >
            {Object.values(StepType).map((type) => (
              <option key={type}>{type}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for={id('mode')}>Runs</label>
          <select
            id={id('mode')}
            value={step.executionMode}
            disabled={index === 0}
            onChange={(event) => onChange({ executionMode: event.currentTarget.value as ExecutionMode })}
          >
            <option value={ExecutionMode.Sequential}>Sequential (new stage)</option>
            <option value={ExecutionMode.ParallelWithPrevious}>Parallel with previous</option>
          </select>
        </div>
        {step.stepType === StepType.RunProfile ? (
          <>
            {text('connectedSystemId', 'Connected system id', { required: true, inputMode: 'numeric' })}
            {text('runProfileName', 'Run profile name', { required: true })}
          </>
        ) : (
          text('path', PATH_FIELD[step.stepType].label, {
            required: true,
            apiField: PATH_FIELD[step.stepType].field,
          })
        )}
        {step.stepType === StepType.SqlScript &&
          text('sqlConnection', 'SQL connection name', { required: true })}
        {(step.stepType === StepType.PowerShell || step.stepType === StepType.Executable) &&
          text('arguments', 'Arguments')}
        {step.stepType === StepType.Executable && text('workingDirectory', 'Working directory')}
        {text('timeoutSeconds', 'Timeout (seconds)', { inputMode: 'numeric' })}
        {text('workerPool', 'Worker pool')}
        <div class="field checkbox">
          <input
            id={id('continue')}
            type="checkbox"
            checked={step.continueOnFailure}
            onChange={(event) => onChange({ continueOnFailure: event.currentTarget.checked })}
          />
          <label for={id('continue')}>Continue on failure</label>
        </div>
      </div>
      <div class="row-actions">
        <button type="button" disabled={index === 0} onClick={() => onMove(-1)}>
          Move up
        </button>
        <button type="button" disabled={index === count - 1} onClick={() => onMove(1)}>
          Move down
        </button>
        <button type="button" class="danger" onClick={onRemove}>
          Remove step
        </button>
      </div>
    </fieldset>
  );
}

export function ScheduleForm({ id }: { id?: string }) {
  const existing = useLoad(async () => (id ? call('getSchedule', { id }) : undefined), [id]);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const save = useAction();
  useEffect(() => {
    if (existing.data) setDraft(draftOf(existing.data));
  }, [existing.data]);

  const set = (patch: Partial<Draft>) => setDraft((current) => ({ ...current, ...patch }));
  const setStep = (key: number, patch: Partial<StepDraft>) =>
    setDraft((current) => ({
      ...current,
      steps: current.steps.map((step) => (step.key === key ? { ...step, ...patch } : step)),
    }));
  const moveStep = (index: number, by: -1 | 1) =>
    setDraft((current) => {
      const steps = [...current.steps];
      const [moved] = steps.splice(index, 1);
      if (moved) steps.splice(index + by, 0, moved);
      return { ...current, steps };
    });

  const submit = (event: Event) => {
    event.preventDefault();
    void save.run(async () => {
      const body = bodyOf(draft);
      const saved = id ? await call('replaceSchedule', { id, body }) : await call('createSchedule', { body });
      navigate(`/schedules/${saved.id}`);
    });
  };

  const messages: Messages = (field) => save.error?.validationErrors[field];
  const title = id ? `Edit ${existing.data?.name ?? 'schedule'}` : 'New schedule';
  return (
    <>
      <PageHeader title={title} />
      <LoadError loaded={existing} />
      <form class="schedule-form" onSubmit={submit} noValidate>
        <div class="grid">
          <Field id="schedule-name" label="Name" class="field wide" messages={messages('name')}>
            {(control) => (
              <input
                {...control}
                required
                value={draft.name}
                onInput={(event) => set({ name: event.currentTarget.value })}
              />
            )}
          </Field>
          <Field
            id="schedule-description"
            label="Description"
            class="field wide"
            messages={messages('description')}
          >
            {(control) => (
              <textarea
                {...control}
                rows={2}
                value={draft.description}
                onInput={(event) => set({ description: event.currentTarget.value })}
              />
            )}
          </Field>
          <Field id="schedule-trigger" label="Trigger" messages={messages('triggerType')}>
            {(control) => (
              <select
                {...control}
                value={draft.triggerType}
                onChange={(event) => set({ triggerType: event.currentTarget.value as TriggerType })}
              >
                <option value={TriggerType.Manual}>Manual (run on demand)</option>
                <option value={TriggerType.Cron}>Cron</option>
              </select>
            )}
          </Field>
          {draft.triggerType === TriggerType.Cron && (
            <>
              <Field
                id="schedule-cron"
                label="Cron expression"
                hint="5 fields: minute hour day-of-month month day-of-week"
                messages={messages('cronExpression')}
              >
                {(control) => (
                  <input
                    {...control}
                    placeholder="0 6 * * MON-FRI"
                    value={draft.cronExpression}
                    onInput={(event) => set({ cronExpression: event.currentTarget.value })}
                  />
                )}
              </Field>
              <Field id="schedule-zone" label="Time zone" messages={messages('timeZone')}>
                {(control) => (
                  <input
                    {...control}
                    value={draft.timeZone}
                    onInput={(event) => set({ timeZone: event.currentTarget.value })}
                  />
                )}
              </Field>
            </>
          )}
          <Field id="schedule-overlap" label="If still running" messages={messages('overlapPolicy')}>
            {(control) => (
              <select
                {...control}
                value={draft.overlapPolicy}
                onChange={(event) => set({ overlapPolicy: event.currentTarget.value as OverlapPolicy })}
              >
                {Object.values(OverlapPolicy).map((policy) => (
                  <option key={policy}>{policy}</option>
                ))}
              </select>
            )}
          </Field>
          <Field
            id="schedule-catchup"
            label="Catch-up window (seconds)"
            messages={messages('catchupWindowSeconds')}
          >
            {(control) => (
              <input
                {...control}
                inputMode="numeric"
                value={draft.catchupWindowSeconds}
                onInput={(event) => set({ catchupWindowSeconds: event.currentTarget.value })}
              />
            )}
          </Field>
          <div class="field checkbox">
            <input
              id="schedule-enabled"
              type="checkbox"
              checked={draft.isEnabled}
              onChange={(event) => set({ isEnabled: event.currentTarget.checked })}
            />
            <label for="schedule-enabled">Enabled (cron schedules fire only when enabled)</label>
          </div>
        </div>
        <h2>Steps</h2>
        {draft.steps.length === 0 && <p class="muted">No steps yet.</p>}
        {messages('steps') && <p class="field-error">{messages('steps')?.join('; ')}</p>}
        {draft.steps.map((step, index) => (
          <StepFields
            key={step.key}
            step={step}
            index={index}
            count={draft.steps.length}
            onChange={(patch) => setStep(step.key, patch)}
            onMove={(by) => moveStep(index, by)}
            onRemove={() => set({ steps: draft.steps.filter((other) => other.key !== step.key) })}
            messages={messages}
          />
        ))}
        <p>
          <button type="button" onClick={() => set({ steps: [...draft.steps, newStep()] })}>
            Add step
          </button>
        </p>
        <ErrorMessage error={save.error} />
        <div class="row-actions">
          <button type="submit" class="primary" disabled={save.busy}>
            {id ? 'Save changes' : 'Create schedule'}
          </button>
          <a class="button" href={href(id ? `/schedules/${id}` : '/schedules')}>
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}
