import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/**
 * CPU time of processes over a window, read from /proc/<pid>/stat (utime + stime, in clock ticks of
 * 10 ms on Linux): the figure that says what a step costs on a shared machine, where wall-clock rates
 * depend on what else runs. Also this process's event-loop utilisation and delay over the same window.
 */

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in ticks of 1/100 s. */
const TICK_MS = 10;

/** CPU ms used by a process so far (user + system), undefined where /proc cannot tell (not Linux, gone). */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the name.
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

export interface CpuWindow {
  /** CPU ms each named process used during the window (NaN where it could not be read). */
  cpuMs: Record<string, number>;
  wallMs: number;
  /** This process's event-loop utilisation (0–1) over the window. */
  eventLoopUtilisation: number;
  /** This process's event-loop delay over the window, ms. */
  delayP50Ms: number;
  delayP99Ms: number;
}

/** Starts measuring the named processes; `end()` answers what they used since. */
export function cpuWindow(pids: Record<string, number | undefined>): { end(): CpuWindow } {
  const read = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)]));
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const before = read();
  const elu = performance.eventLoopUtilization();
  const started = performance.now();
  return {
    end() {
      const after = read();
      const wallMs = performance.now() - started;
      const utilisation = performance.eventLoopUtilization(elu).utilization;
      delay.disable();
      return {
        cpuMs: Object.fromEntries(
          Object.keys(pids).map((name) => {
            const [b, a] = [before[name], after[name]];
            return [name, a === undefined || b === undefined ? Number.NaN : a - b];
          }),
        ),
        wallMs,
        eventLoopUtilisation: utilisation,
        delayP50Ms: delay.percentile(50) / 1e6,
        delayP99Ms: delay.percentile(99) / 1e6,
      };
    },
  };
}

/**
 * CPU ms this process takes for a fixed piece of work (JSON and SHA-256, as a request's handling
 * has), the best of three: how fast this machine is right now. The same code's CPU per step moves
 * with it run to run (the host's other tenants), so the bench prints it beside the rates.
 */
export function referenceWorkMs(): number {
  const payload = {
    TableName: 'WorkerTasks',
    Key: { taskId: 'a'.repeat(36) },
    Items: Array(20).fill({ n: 1 }),
  };
  const block = Buffer.alloc(1 << 20, 7);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < 20_000; i++) JSON.parse(JSON.stringify(payload));
    for (let i = 0; i < 64; i++) createHash('sha256').update(block).digest();
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}
