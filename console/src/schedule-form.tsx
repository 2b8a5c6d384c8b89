import { useEffect, useState } from 'preact/hooks';
import { ExecutionMode, OverlapPolicy, StepType, TriggerType } from '../../core/model.js';
import type { Schedule } from '../../core/schemas/schedule.js';
import { type BodyOf, call } from './api.js';
import { ErrorMessage, Field, href, InputField, navigate, PageHeader, useAction, useLoad } from './ui.js';

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

/** Records, so tsc flags a mode or trigger added to the model without words for it here. */
const MODE_LABEL: Record<ExecutionMode, string> = {
  Sequential: 'Sequential (new stage)',
  ParallelWithPrevious: 'Parallel with previous',
};
const TRIGGER_LABEL: Record<TriggerType, string> = { Manual: 'Manual (run on demand)', Cron: 'Cron' };

/** The API's messages for one field, by its `validationErrors` name (`name`, `steps[0].name`). */
type Messages = (field: string) => string[] | undefined;

/**
 * A draft's fields as {@link InputField}s: `input('name', 'Name')` binds `draft.name`, and takes the
 * API's messages for it by its `validationErrors` name (`apiPrefix` + the field, or `apiField`).
 */
const inputsOf =
  <D extends object>(
    draft: D,
    change: (patch: Partial<D>) => void,
    idPrefix: string,
    apiPrefix: string,
    messages: Messages,
  ) =>
  (
    field: keyof D & string,
    label: string,
    extra: {
      apiField?: string;
      class?: string;
      hint?: string;
      placeholder?: string;
      required?: boolean;
      inputMode?: 'numeric';
      options?: readonly string[];
      labels?: Readonly<Record<string, string>>;
      disabled?: boolean;
    } = {},
  ) => {
    const { apiField = field, ...attributes } = extra;
    return (
      <InputField
        {...attributes}
        id={`${idPrefix}-${field}`}
        label={label}
        messages={messages(`${apiPrefix}${apiField}`)}
        value={String(draft[field] ?? '')}
        onValue={(value) => change({ [field]: value } as Partial<D>)}
      />
    );
  };

function StepFields({
  step,
  index,
  count,
  onChange,
  onMove,
  onRemove,
  messages,
}: {
  step: StepDraft;
  index: number;
  count: number;
  onChange: (patch: Partial<StepDraft>) => void;
  onMove: (by: -1 | 1) => void;
  onRemove: () => void;
  messages: Messages;
}) {
  const continueId = `step-${step.key}-continue`;
  const input = inputsOf(step, onChange, `step-${step.key}`, `steps[${index}].`, messages);
  return (
    <fieldset class="step-editor">
      <legend>
        Step {index + 1}
        {step.name ? `: ${step.name}` : ''}
      </legend>
      <div class="grid">
        {input('name', 'Name', { required: true })}
        {input('stepType', 'Type', { options: Object.values(StepType) })}
        {input('executionMode', 'Runs', {
          options: Object.values(ExecutionMode),
          labels: MODE_LABEL,
          disabled: index === 0,
        })}
        {step.stepType === StepType.RunProfile ? (
          <>
            {input('connectedSystemId', 'Connected system id', { required: true, inputMode: 'numeric' })}
            {input('runProfileName', 'Run profile name', { required: true })}
          </>
        ) : (
          input('path', PATH_FIELD[step.stepType].label, {
            required: true,
            apiField: PATH_FIELD[step.stepType].field,
          })
        )}
        {step.stepType === StepType.SqlScript &&
          input('sqlConnection', 'SQL connection name', { required: true })}
        {(step.stepType === StepType.PowerShell || step.stepType === StepType.Executable) &&
          input('arguments', 'Arguments')}
        {step.stepType === StepType.Executable && input('workingDirectory', 'Working directory')}
        {input('timeoutSeconds', 'Timeout (seconds)', { inputMode: 'numeric' })}
        {input('workerPool', 'Worker pool')}
        <div class="field checkbox">
          <input
            id={continueId}
            type="checkbox"
            checked={step.continueOnFailure}
            onChange={(event) => onChange({ continueOnFailure: event.currentTarget.checked })}
          />
          <label for={continueId}>Continue on failure</label>
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
  const input = inputsOf(draft, set, 'schedule', '', messages);
  const title = id ? `Edit ${existing.data?.name ?? 'schedule'}` : 'New schedule';
  return (
    <>
      <PageHeader title={title} />
      <ErrorMessage loaded={existing} />
      <form class="schedule-form" onSubmit={submit} noValidate>
        <div class="grid">
          {input('name', 'Name', { class: 'field wide', required: true })}
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
          {input('triggerType', 'Trigger', {
            options: [TriggerType.Manual, TriggerType.Cron],
            labels: TRIGGER_LABEL,
          })}
          {draft.triggerType === TriggerType.Cron && (
            <>
              {input('cronExpression', 'Cron expression', {
                hint: '5 fields: minute hour day-of-month month day-of-week',
                placeholder: '0 6 * * MON-FRI',
              })}
              {input('timeZone', 'Time zone')}
            </>
          )}
          {input('overlapPolicy', 'If still running', { options: Object.values(OverlapPolicy) })}
          {input('catchupWindowSeconds', 'Catch-up window (seconds)', { inputMode: 'numeric' })}
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
