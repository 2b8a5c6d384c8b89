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
