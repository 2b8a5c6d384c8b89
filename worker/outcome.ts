import { z } from 'zod';
import { ActivityStatus } from '../core/model.js';
import { FINAL_ACTIVITY_STATUSES as FINAL, WORKER_LIMITS } from '../core/schemas/worker.js';
import { keepNewestBytes, STEP_OUTPUT_BYTES } from '../core/step-output.js';
import type { FinalActivityStatus } from '../core/transitions.js';
import type { StepOutcome } from './runners/types.js';

/**
 * How a process's end becomes the step's activity status — the one convention shared by `Executable`,
 * `PowerShell` and command adapters of `RunProfile` steps.
 *
 * 1. **Result line.** If the last non-empty line the program printed on stdout is a JSON object with an
 *    `activityStatus`, it decides, whatever the exit code:
 *    `{"activityStatus":"CompleteWithWarning","activityId":"run-4711","message":"3 objects skipped"}`.
 *    `activityStatus` is one of `Complete`, `CompleteWithWarning`, `CompleteWithError`,
 *    `FailedWithError`, `Cancelled`; `activityId` (string or number, ≤ 200 characters) is recorded on
 *    the step; `message` becomes the step's `errorMessage` for every status but `Complete`. A JSON line
 *    with an unknown `activityStatus` fails the step saying so (a typo must not pass as success).
 *    JSON lines without `activityStatus` are ordinary output.
 * 2. **Exit code**, when there is no result line: `0` → `Complete`; `10` → `CompleteWithWarning`;
 *    `11` → `CompleteWithError`; any other → `FailedWithError`. For all but `0` the `errorMessage` is
 *    the tail of stderr (with the exit code), or the last stdout line when stderr is empty.
 * 3. **Stopped by the worker**: on cancel → `Cancelled`; on the step's `timeoutSeconds` →
 *    `FailedWithError` "timed out after N s"; on worker shutdown past its grace period → `Cancelled`
 *    "worker shutting down". In each case the whole process tree was stopped.
 * 4. A program that cannot be started (not found, not executable, missing working directory) →
 *    `FailedWithError` saying which.
 *
 * The step's `output` is the tail of stdout, then the tail of stderr, 16 KB of UTF-8 in all (what the
 * executions API shows on the step; while the step runs, heartbeats carry the lines printed so far).
 */
export const EXIT_CODE_STATUS: Readonly<Record<number, FinalActivityStatus>> = {
  0: ActivityStatus.Complete,
  10: ActivityStatus.CompleteWithWarning,
  11: ActivityStatus.CompleteWithError,
};

/** The JSON a program prints as its last line, or an HTTP adapter answers. Other fields are ignored. */
export const ActivityResult = z.looseObject({
  activityStatus: z.enum(FINAL, { error: `Must be one of ${FINAL.join(', ')}` }),
  activityId: z
    .union([z.string(), z.number()], { error: 'Must be a string or a number' })
    .transform(String)
    .nullish(),
  message: z.string({ error: 'Must be a string' }).nullish(),
});
export type ActivityResult = z.infer<typeof ActivityResult>;

export type ResultLine =
  | { kind: 'none' }
  | { kind: 'result'; result: ActivityResult }
  | { kind: 'invalid'; problem: string };

/** Reads the result line: the last non-empty stdout line, when it is a JSON object with `activityStatus`. */
export function readResultLine(stdout: string): ResultLine {
  const last = lastLine(stdout);
  if (!last?.startsWith('{')) return { kind: 'none' };
  let json: unknown;
  try {
    json = JSON.parse(last);
  } catch {
    return { kind: 'none' };
  }
  if (typeof json !== 'object' || json === null || !('activityStatus' in json)) return { kind: 'none' };
  const parsed = ActivityResult.safeParse(json);
  if (parsed.success) return { kind: 'result', result: parsed.data };
  return { kind: 'invalid', problem: describeIssues(parsed.error) };
}

/** Describes zod issues as `field: message; …`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`).join('; ');
}

/** What a process that ran to its end (not stopped by the worker) produced. */
export interface ProcessEnd {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Applies the convention above (rules 1 and 2) to a process that ended by itself. */
export function processOutcome(end: ProcessEnd): StepOutcome {
  const output = outputOf(end.stdout, end.stderr);
  const evidence = output ? { output } : {};
  const stderr = end.stderr.trim();
  const ended =
    end.exitCode === null
      ? `Killed by signal ${end.signal ?? 'unknown'}`
      : `Exited with code ${end.exitCode}`;
  const explanation = stderr || lastLine(end.stdout);

  const line = readResultLine(end.stdout);
  if (line.kind === 'invalid') {
    return failed(`The result line is not valid (${line.problem}); ${ended.toLowerCase()}`, evidence);
  }
  if (line.kind === 'result') {
    const fallback = end.exitCode === 0 ? explanation : `${ended}${explanation ? `: ${explanation}` : ''}`;
    return { ...resultOutcome(line.result, fallback), ...evidence };
  }

  const status = end.exitCode === null ? undefined : EXIT_CODE_STATUS[end.exitCode];
  if (status === ActivityStatus.Complete) return { activityStatus: status, ...evidence };
  return bound({
    activityStatus: status ?? ActivityStatus.FailedWithError,
    errorMessage: explanation ? `${ended}: ${explanation}` : ended,
    ...evidence,
  });
}

/** A reported result (result line or HTTP answer) as an outcome; `fallback` explains a non-Complete status without a message. */
export function resultOutcome(result: ActivityResult, fallback?: string): StepOutcome {
  const message = result.message?.trim() || fallback;
  return bound({
    activityStatus: result.activityStatus,
    ...(result.activityId ? { activityId: result.activityId } : {}),
    ...(result.activityStatus !== ActivityStatus.Complete && message ? { errorMessage: message } : {}),
  });
}

/** Why the worker stopped a step. */
export type StopReason = 'cancelled' | 'timeout' | 'shutdown';

/** Rule 3: the outcome of a step the worker stopped. */
export function stoppedOutcome(
  reason: StopReason | undefined,
  timeoutSeconds: number,
  evidence: { output?: string } = {},
  what = "the step's processes were stopped",
): StepOutcome {
  const output = evidence.output ? { output: evidence.output } : {};
  if (reason === 'timeout') return failed(`timed out after ${timeoutSeconds} s; ${what}`, output);
  return bound({
    activityStatus: ActivityStatus.Cancelled,
    errorMessage: reason === 'shutdown' ? `worker shutting down; ${what}` : `Cancelled; ${what}`,
    ...output,
  });
}

export const failed = (errorMessage: string, extra: Partial<StepOutcome> = {}): StepOutcome =>
  bound({ ...extra, activityStatus: ActivityStatus.FailedWithError, errorMessage });

/** Cuts an outcome to what the complete endpoint accepts, keeping the end of messages (where errors are). */
export function bound(outcome: StepOutcome): StepOutcome {
  return {
    activityStatus: outcome.activityStatus,
    ...(outcome.errorMessage
      ? { errorMessage: keepEnd(outcome.errorMessage, WORKER_LIMITS.errorMessage) }
      : {}),
    ...(outcome.activityId ? { activityId: outcome.activityId.slice(0, WORKER_LIMITS.activityId) } : {}),
    // The service keeps no more (STEP_OUTPUT_BYTES), so no more is sent: the newest text.
    ...(outcome.output ? { output: keepNewestBytes(outcome.output, STEP_OUTPUT_BYTES) } : {}),
  };
}

const STDERR_HEADING = '--- stderr ---\n';

/**
 * The stdout tail, then the stderr tail, in at most `maxBytes` of UTF-8, newest text of each kept
 * and no character split. When both do not fit, the shorter keeps all of itself up to half, the
 * longer the rest: the result line is at stdout's end, the error at stderr's.
 */
export function outputOf(stdout: string, stderr: string, maxBytes: number = STEP_OUTPUT_BYTES): string {
  const out = stdout.trimEnd();
  const err = stderr.trimEnd();
  if (!err) return keepNewestBytes(out, maxBytes);
  const heading = out ? `\n${STDERR_HEADING}` : STDERR_HEADING;
  const budget = Math.max(0, maxBytes - Buffer.byteLength(heading));
  const outBytes = Buffer.byteLength(out);
  const errBytes = Buffer.byteLength(err);
  const errShare =
    outBytes + errBytes <= budget
      ? errBytes
      : Math.min(errBytes, Math.max(budget - outBytes, Math.floor(budget / 2)));
  return `${keepNewestBytes(out, budget - errShare)}${heading}${keepNewestBytes(err, errShare)}`;
}

/** The last non-empty line of a text, trimmed. */
export function lastLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const line = lines[i]?.trim();
    if (line) return line;
  }
  return undefined;
}

function keepEnd(text: string, max: number): string {
  return text.length > max ? `…${text.slice(text.length - max + 1)}` : text;
}
