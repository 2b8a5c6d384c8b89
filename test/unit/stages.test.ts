import { describe, expect, it } from 'vitest';
import { ExecutionMode } from '../../core/model.js';
import { assignStageIndexes, countStages, stagesOf } from '../../core/stages.js';

const { Sequential: S, ParallelWithPrevious: P } = ExecutionMode;

const steps = (...modes: ExecutionMode[]) =>
  modes.map((executionMode, i) => ({ name: `step ${i}`, executionMode }));

describe('assignStageIndexes', () => {
  it.each([
    { modes: [], expected: [] },
    { modes: [S], expected: [0] },
    { modes: [P], expected: [0] },
    { modes: [S, S, S], expected: [0, 1, 2] },
    { modes: [S, P, P], expected: [0, 0, 0] },
    { modes: [P, P], expected: [0, 0] },
    { modes: [P, S], expected: [0, 1] },
    { modes: [S, P, S, S, P, P, S], expected: [0, 0, 1, 2, 2, 2, 3] },
  ])('gives modes $modes the stages $expected', ({ modes, expected }) => {
    // Act
    const staged = assignStageIndexes(steps(...modes));

    // Assert
    expect(staged.map((step) => step.stepIndex)).toEqual(expected);
  });

  it('puts the first step in stage 0 even when it says ParallelWithPrevious', () => {
    const [first] = assignStageIndexes(steps(P, S));

    expect(first?.stepIndex).toBe(0);
  });

  it('keeps every other field of each step and does not mutate the input', () => {
    // Arrange
    const input = [
      { name: 'import', executionMode: S, extra: 1 },
      { name: 'export', executionMode: P, extra: 2 },
    ];
    const before = structuredClone(input);

    // Act
    const staged = assignStageIndexes(input);

    // Assert
    expect(staged).toEqual([
      { name: 'import', executionMode: S, extra: 1, stepIndex: 0 },
      { name: 'export', executionMode: P, extra: 2, stepIndex: 0 },
    ]);
    expect(input).toEqual(before);
  });
});

describe('countStages', () => {
  it.each([
    { modes: [], stages: 0 },
    { modes: [S], stages: 1 },
    { modes: [P], stages: 1 },
    { modes: [S, P, P], stages: 1 },
    { modes: [S, S, P, S], stages: 3 },
    { modes: [P, S, P, S, P], stages: 3 },
  ])('counts $stages stage(s) for modes $modes', ({ modes, stages }) => {
    expect(countStages(assignStageIndexes(steps(...modes)))).toBe(stages);
  });

  it('counts distinct stepIndex values, not steps', () => {
    expect(countStages([{ stepIndex: 0 }, { stepIndex: 0 }, { stepIndex: 1 }, { stepIndex: 1 }])).toBe(2);
  });
});

describe('stagesOf', () => {
  it('groups steps by stage in stage order, keeping their order inside a stage', () => {
    // Arrange: rows as a store may return them, not in stage order.
    const rows = [
      { name: 'sync', stepIndex: 1 },
      { name: 'import LDAP', stepIndex: 0 },
      { name: 'export', stepIndex: 2 },
      { name: 'import HR', stepIndex: 0 },
    ];

    // Act
    const stages = stagesOf(rows);

    // Assert
    expect(stages.map((stage) => stage.map((step) => step.name))).toEqual([
      ['import LDAP', 'import HR'],
      ['sync'],
      ['export'],
    ]);
  });

  it('has no stage for no steps', () => {
    expect(stagesOf([])).toEqual([]);
  });
});
