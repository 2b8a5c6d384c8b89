import { describe, expect, it } from 'vitest';
import { ExecutionStatus, StepStatus, WorkerTaskStatus } from '../../core/model.js';
import {
  ACTIVE_EXECUTION_STATUSES,
  canMove,
  EXECUTION_MOVES,
  executionMove,
  isActiveExecutionStatus,
  isTerminalStepStatus,
  type Move,
  moveBetween,
  STEP_MOVES,
  TASK_MOVES,
  TERMINAL_STEP_STATUSES,
  taskMustStop,
  UNFINISHED_STEP_STATUSES,
} from '../../core/transitions.js';

const E = ExecutionStatus;
const S = StepStatus;
const T = WorkerTaskStatus;

/** The allowed moves, written out by hand: the table must allow exactly these pairs, by these names. */
const EXECUTION_PAIRS: Record<string, string> = {
  'Queued>InProgress': 'start',
  'Queued>Failed': 'fail',
  'Queued>Cancelled': 'cancel',
  'InProgress>InProgress': 'reachStage',
  'InProgress>Paused': 'pause',
  'InProgress>Completed': 'complete',
  'InProgress>Failed': 'fail',
  'InProgress>Cancelled': 'cancel',
  'Paused>InProgress': 'resume',
  'Paused>Completed': 'complete',
  'Paused>Failed': 'fail',
  'Paused>Cancelled': 'cancel',
};

const STEP_PAIRS: Record<string, string> = {
  'Pending>Waiting': 'hold',
  'Pending>Queued': 'enqueue',
  'Waiting>Queued': 'enqueue',
  'Queued>Processing': 'claim',
  'Processing>Queued': 'release',
  'Processing>Completed': 'finish',
  'Processing>Completed with Warning': 'finish',
  'Processing>Completed with Error': 'finish',
  'Processing>Failed': 'finish',
  'Processing>Cancelled': 'finish',
  'Pending>Failed': 'fail',
  'Waiting>Failed': 'fail',
  'Queued>Failed': 'fail',
  'Pending>Cancelled': 'cancel',
  'Waiting>Cancelled': 'cancel',
  'Queued>Cancelled': 'cancel',
};

const TASK_PAIRS: Record<string, string> = {
  'Queued>Claimed': 'claim',
  'Claimed>Queued': 'release',
  'Claimed>Completed': 'complete',
  'Queued>Abandoned': 'abandon',
  'Claimed>Abandoned': 'abandon',
};

const nameOf = <S extends string>(table: Record<string, Move<S>>, from: S, to: S) => {
  const move = moveBetween(table, from, to);
  return move && Object.entries(table).find(([, m]) => m === move)?.[0];
};

const pairs = <S extends string>(statuses: readonly S[]) =>
  statuses.flatMap((from) => statuses.map((to) => [from, to] as const));

describe.each([
  ['execution', Object.values(E), EXECUTION_MOVES, EXECUTION_PAIRS],
  ['step', Object.values(S), STEP_MOVES, STEP_PAIRS],
  ['worker task', Object.values(T), TASK_MOVES, TASK_PAIRS],
] as const)('%s moves', (_kind, statuses, table, expected) => {
  it.each(pairs<string>(statuses))('%s → %s', (from, to) => {
    const name = nameOf(table as Record<string, Move<string>>, from, to);
    expect(name ?? 'refused').toBe(expected[`${from}>${to}`] ?? 'refused');
  });

  it('names only statuses of its kind', () => {
    for (const move of Object.values(table) as Move<string>[]) {
      const to = typeof move.to === 'string' ? [move.to] : move.to;
      for (const status of [...move.from, ...to]) expect(statuses).toContain(status);
    }
  });
});

describe('terminal statuses', () => {
  const hasWayOut = <S extends string>(table: Record<string, Move<S>>, status: S) =>
    Object.values(table).some((move) => canMove(move, status));

  it.each(Object.values(E))('execution %s has a way out exactly when it is active', (status) => {
    expect(hasWayOut(EXECUTION_MOVES, status)).toBe(isActiveExecutionStatus(status));
  });

  it.each(Object.values(S))('step %s has a way out exactly when it is unfinished', (status) => {
    expect(hasWayOut(STEP_MOVES, status)).toBe(!isTerminalStepStatus(status));
  });

  it.each([T.Completed, T.Abandoned])('worker task %s has no way out', (status) => {
    expect(hasWayOut(TASK_MOVES, status)).toBe(false);
  });

  it('splits every status into active or ended, unfinished or terminal', () => {
    expect(ACTIVE_EXECUTION_STATUSES).toEqual([E.Queued, E.InProgress, E.Paused]);
    expect(TERMINAL_STEP_STATUSES).toEqual([
      S.Completed,
      S.CompletedWithWarning,
      S.CompletedWithError,
      S.Failed,
      S.Cancelled,
    ]);
    expect(UNFINISHED_STEP_STATUSES).toEqual([S.Pending, S.Queued, S.Processing, S.Waiting]);
  });
});

describe('what moves with an execution', () => {
  it('ends it exactly when it leaves the active statuses', () => {
    for (const [from, to] of pairs(Object.values(E))) {
      if (!moveBetween(EXECUTION_MOVES, from, to)) continue;
      expect(executionMove(from, to).ends).toBe(!isActiveExecutionStatus(to));
    }
  });

  it('refuses a move the table does not allow, before any write', () => {
    expect(() => executionMove(E.Completed, E.Cancelled)).toThrow(/cannot move from Completed to Cancelled/);
    expect(() => executionMove(E.Queued, E.Completed)).toThrow();
  });

  it('cancels every unfinished step of an ending execution', () => {
    expect(STEP_MOVES.cancel.from).toEqual(UNFINISHED_STEP_STATUSES);
  });

  it.each([
    [undefined, E.InProgress, true],
    [S.Processing, E.InProgress, false],
    [S.Processing, E.Paused, false],
    [S.Processing, E.Cancelled, true],
    [S.Cancelled, E.Failed, true],
    [S.Failed, E.InProgress, true],
  ] as const)('a worker on a step %s of an execution %s must stop: %s', (step, execution, stop) => {
    expect(taskMustStop(step && { status: step }, { status: execution })).toBe(stop);
  });
});
