import { InitiatedByType } from '../../core/model.js';
import type { Execution } from '../../core/schemas/execution.js';
import { Duration, href, Status, TableHead, Time } from './ui.js';

/** Executions as a table: the executions list, the active ones, a schedule's recent runs. */

const initiator = (execution: Execution) =>
  execution.initiatedByType === InitiatedByType.NotSet
    ? 'Cron'
    : `${execution.initiatedByName ?? execution.initiatedById ?? ''} (${execution.initiatedByType === InitiatedByType.ApiKey ? 'API key' : 'user'})`;

export function ExecutionTable({
  executions,
  showSchedule = true,
  empty,
}: {
  executions: readonly Execution[];
  showSchedule?: boolean;
  /** What an empty list means where it is shown. */
  empty: string;
}) {
  if (executions.length === 0) return <p class="muted">{empty}</p>;
  return (
    <table>
      <TableHead
        columns={[
          showSchedule && 'Schedule',
          'Status',
          'Stage',
          'Queued',
          'Started',
          'Duration',
          'Initiated by',
        ]}
      />
      <tbody>
        {executions.map((execution) => (
          <tr key={execution.id}>
            {showSchedule && (
              <td>
                <a href={href(`/executions/${execution.id}`)}>{execution.scheduleName}</a>
              </td>
            )}
            <td>
              <a href={href(`/executions/${execution.id}`)}>
                <Status value={execution.status} />
              </a>
              {execution.errorMessage && <div class="small error-text">{execution.errorMessage}</div>}
            </td>
            <td>
              {Math.min(execution.currentStepIndex + 1, execution.totalSteps)} / {execution.totalSteps}
            </td>
            <td>
              <Time at={execution.queuedAt} />
            </td>
            <td>
              <Time at={execution.startedAt} />
            </td>
            <td>
              <Duration from={execution.startedAt} to={execution.completedAt} />
            </td>
            <td>{initiator(execution)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
