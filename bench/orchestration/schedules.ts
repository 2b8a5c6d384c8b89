import { assignStageIndexes, countStages } from '../../core/stages.js';

/** The schedules the benchmark runs: five steps of every kind, all sequential or 1–3 in parallel. */

const STEP_KINDS = [
  { stepType: 'RunProfile', connectedSystemId: 1, runProfileName: 'Delta Import' },
  { stepType: 'RunProfile', connectedSystemId: 2, runProfileName: 'Delta Import' },
  { stepType: 'PowerShell', scriptPath: 'C:\\Scripts\\sync.ps1', arguments: '-Verbose' },
  { stepType: 'Executable', executablePath: 'C:\\Tools\\export.exe', arguments: '/all' },
  { stepType: 'SqlScript', sqlConnection: 'reporting', sqlScriptPath: 'reports\\daily.sql' },
];

export function scheduleBody(name: string, pool: string, modes: string[]) {
  return {
    name,
    description: 'Orchestration benchmark',
    triggerType: 'Manual',
    overlapPolicy: 'AllowAll',
    steps: modes.map((executionMode, n) => ({
      name: `Step ${n + 1}`,
      ...STEP_KINDS[n % STEP_KINDS.length],
      executionMode,
      timeoutSeconds: 3600,
      workerPool: pool,
    })),
  };
}

export const SEQUENTIAL = ['Sequential', 'Sequential', 'Sequential', 'Sequential', 'Sequential'];
export const MIX = ['Sequential', 'ParallelWithPrevious', 'ParallelWithPrevious', 'Sequential', 'Sequential'];
export const shapeOf = (modes: string[]) => {
  const steps = assignStageIndexes(modes.map((executionMode) => ({ executionMode: executionMode as any })));
  const stages = countStages(steps);
  const sizes = new Map<number, number>();
  for (const step of steps) sizes.set(step.stepIndex, (sizes.get(step.stepIndex) ?? 0) + 1);
  const ordered = [...sizes.entries()].sort(([a], [b]) => a - b).map(([, size]) => size);
  /** Stages of more than one step: only these run through the RunStage Map. */
  const parallelStages = ordered.filter((size) => size > 1).length;
  /** Runs of consecutive one-step stages: each is one RunSingleStep, its token handed on through the run. */
  const singleRuns = ordered.filter((size, i) => size === 1 && (i === 0 || ordered[i - 1] !== 1)).length;
  return { steps: steps.length, stages, parallelStages, singleRuns };
};

export type Shape = ReturnType<typeof shapeOf>;

/** The steps the state machine queues (enqueueStep): all but those a completion queued, handing its token on. */
export const enqueuedByStateMachine = (shape: Shape) =>
  shape.steps - (shape.stages - shape.parallelStages - shape.singleRuns);
