import { describe, expect, it } from 'vitest';
import { WORKER_LIMITS } from '../../../core/schemas/worker.js';
import {
  bound,
  type ProcessEnd,
  processOutcome,
  readResultLine,
  stoppedOutcome,
} from '../../../worker/outcome.js';
import { rowsOf } from '../../helpers/rows.js';

const end = (fields: Partial<ProcessEnd>): ProcessEnd => ({
  exitCode: 0,
  signal: null,
  stdout: '',
  stderr: '',
  ...fields,
});

describe('processOutcome', () => {
  it.each([
    {
      name: 'exit 0 is Complete',
      end: end({ stdout: 'done\n' }),
      expected: { activityStatus: 'Complete', output: 'done' },
    },
    {
      name: 'exit 0 with stderr is still Complete',
      end: end({ stdout: 'done', stderr: 'deprecated flag\n' }),
      expected: { activityStatus: 'Complete', output: 'done\n--- stderr ---\ndeprecated flag' },
    },
    {
      name: 'a non-zero exit fails with the stderr tail',
      end: end({ exitCode: 2, stderr: 'cannot open file.csv\n' }),
      expected: {
        activityStatus: 'FailedWithError',
        errorMessage: 'Exited with code 2: cannot open file.csv',
        output: '--- stderr ---\ncannot open file.csv',
      },
    },
    {
      name: 'a non-zero exit with empty stderr names the last stdout line',
      end: end({ exitCode: 1, stdout: 'step 1\nERROR: no rows\n\n' }),
      expected: {
        activityStatus: 'FailedWithError',
        errorMessage: 'Exited with code 1: ERROR: no rows',
        output: 'step 1\nERROR: no rows',
      },
    },
    {
      name: 'a silent non-zero exit says the code',
      end: end({ exitCode: 3 }),
      expected: { activityStatus: 'FailedWithError', errorMessage: 'Exited with code 3' },
    },
    {
      name: 'a kill by signal says which',
      end: end({ exitCode: null, signal: 'SIGKILL' }),
      expected: { activityStatus: 'FailedWithError', errorMessage: 'Killed by signal SIGKILL' },
    },
    {
      name: 'exit 10 is CompleteWithWarning',
      end: end({ exitCode: 10, stderr: '3 rows skipped' }),
      expected: {
        activityStatus: 'CompleteWithWarning',
        errorMessage: 'Exited with code 10: 3 rows skipped',
        output: '--- stderr ---\n3 rows skipped',
      },
    },
    {
      name: 'exit 11 is CompleteWithError',
      end: end({ exitCode: 11 }),
      expected: { activityStatus: 'CompleteWithError', errorMessage: 'Exited with code 11' },
    },
    {
      name: 'a result line overrides exit 0',
      end: end({
        stdout:
          'working\n{"activityStatus":"CompleteWithWarning","activityId":"run-7","message":"2 skipped"}\n',
      }),
      expected: {
        activityStatus: 'CompleteWithWarning',
        activityId: 'run-7',
        errorMessage: '2 skipped',
        output:
          'working\n{"activityStatus":"CompleteWithWarning","activityId":"run-7","message":"2 skipped"}',
      },
    },
    {
      name: 'a result line overrides a non-zero exit',
      end: end({ exitCode: 1, stdout: '{"activityStatus":"Complete","activityId":4711}' }),
      expected: {
        activityStatus: 'Complete',
        activityId: '4711',
        output: '{"activityStatus":"Complete","activityId":4711}',
      },
    },
    {
      name: 'a failing result line without message takes the stderr tail',
      end: end({ exitCode: 1, stdout: '{"activityStatus":"FailedWithError"}', stderr: 'bind failed' }),
      expected: {
        activityStatus: 'FailedWithError',
        errorMessage: 'Exited with code 1: bind failed',
        output: '{"activityStatus":"FailedWithError"}\n--- stderr ---\nbind failed',
      },
    },
    {
      name: 'a Complete result line drops its message from errorMessage',
      end: end({ stdout: '{"activityStatus":"Complete","message":"all good"}' }),
      expected: { activityStatus: 'Complete', output: '{"activityStatus":"Complete","message":"all good"}' },
    },
    {
      name: 'an unknown activityStatus fails the step saying so',
      end: end({ stdout: '{"activityStatus":"Completed"}' }),
      expected: {
        activityStatus: 'FailedWithError',
        errorMessage: expect.stringMatching(
          /^The result line is not valid \(activityStatus: Must be one of Complete, .*\); exited with code 0$/,
        ),
        output: '{"activityStatus":"Completed"}',
      },
    },
    {
      name: 'JSON without activityStatus is ordinary output',
      end: end({ exitCode: 2, stdout: '{"rows":3}' }),
      expected: {
        activityStatus: 'FailedWithError',
        errorMessage: 'Exited with code 2: {"rows":3}',
        output: '{"rows":3}',
      },
    },
    {
      name: 'a result line that is not the last line does not count',
      end: end({ stdout: '{"activityStatus":"CompleteWithError"}\nbye' }),
      expected: { activityStatus: 'Complete', output: '{"activityStatus":"CompleteWithError"}\nbye' },
    },
  ])('$name', ({ end, expected }) => {
    expect(processOutcome(end)).toEqual(expected);
  });
});

describe('readResultLine', () => {
  it.each(
    rowsOf('kind', 'stdout', {
      none: ['', 'not json', '{broken', '[1,2]'],
      result: ['{"activityStatus":"Cancelled"}\r\n'],
      invalid: ['{"activityStatus":"Complete","activityId":{"x":1}}'],
    }),
  )('reads $stdout as $kind', ({ stdout, kind }) => {
    expect(readResultLine(stdout).kind).toBe(kind);
  });
});

describe('stoppedOutcome', () => {
  it.each([
    {
      reason: 'timeout',
      expected: {
        activityStatus: 'FailedWithError',
        errorMessage: expect.stringMatching(/^timed out after 30 s/),
      },
    },
    {
      reason: 'cancelled',
      expected: { activityStatus: 'Cancelled', errorMessage: expect.stringMatching(/^Cancelled/) },
    },
    {
      reason: 'shutdown',
      expected: { activityStatus: 'Cancelled', errorMessage: expect.stringMatching(/^worker shutting down/) },
    },
  ] as const)('reports a step stopped for $reason', ({ reason, expected }) => {
    expect(stoppedOutcome(reason, 30)).toEqual(expected);
  });
});

describe('bound', () => {
  it('keeps the end of an errorMessage too long for the API', () => {
    const outcome = bound({ activityStatus: 'FailedWithError', errorMessage: `${'x'.repeat(5000)}END` });

    expect(outcome.errorMessage).toHaveLength(WORKER_LIMITS.errorMessage);
    expect(outcome.errorMessage?.endsWith('END')).toBe(true);
  });
});
