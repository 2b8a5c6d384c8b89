import { call } from './api.js';
import { ErrorMessage, href, PageHeader, Status, TableHead, Time, useLoad } from './ui.js';

/** Workers heard from within the last day: online or not, their pools, what they run. */
export function WorkersPage() {
  const workers = useLoad(() => call('listWorkers'), [], 5000);
  return (
    <>
      <PageHeader title="Workers" />
      <ErrorMessage loaded={workers} />
      {workers.data?.length === 0 && (
        <p class="muted">
          No worker has been heard from in the last day: steps wait as Queued until one claims them. Start one
          with <code>npm run worker</code>.
        </p>
      )}
      {workers.data && workers.data.length > 0 && (
        <table>
          <TableHead columns={['Worker', 'Status', 'Pools', 'Last seen', 'Running']} />
          <tbody>
            {workers.data.map((worker) => (
              <tr key={worker.workerId}>
                <td>
                  <code>{worker.workerId}</code>
                </td>
                <td>
                  <Status value={worker.status} />
                </td>
                <td>{worker.pools.join(', ')}</td>
                <td>
                  <Time at={worker.lastSeenAt} />
                </td>
                <td>
                  {worker.runningTasks.length === 0 ? (
                    <span class="muted">idle</span>
                  ) : (
                    <ul class="plain">
                      {worker.runningTasks.map((task) => (
                        <li key={task.taskId}>
                          <a href={href(`/executions/${task.executionId}`)}>{task.stepName}</a>{' '}
                          <span class="muted small">
                            since <Time at={task.since} />
                          </span>
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
