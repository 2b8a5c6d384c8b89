/**
 * Structured log lines for the worker: one JSON object per line on stdout, so journald, CloudWatch
 * agent or any log shipper can index them. Nothing secret is ever passed in: the API key, HTTP adapter
 * tokens and connection strings live only in environment variables the logger never sees.
 */

import { enumOf, type ValueOf } from '../core/enum.js';

export const LogLevel = enumOf('debug', 'info', 'warn', 'error');
export type LogLevel = ValueOf<typeof LogLevel>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. the task id). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lines below this level are dropped (default `info`). */
  level?: LogLevel;
  /** Where a finished line goes (default: stdout). */
  write?: (line: string) => void;
  /** Fields on every line. */
  fields?: LogFields;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? LogLevel.info];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const make = (base: LogFields): Logger => {
    const log =
      (level: LogLevel) =>
      (message: string, fields: LogFields = {}) => {
        if (RANK[level] < threshold) return;
        write(JSON.stringify({ time: new Date().toISOString(), level, message, ...base, ...clean(fields) }));
      };
    return {
      debug: log(LogLevel.debug),
      info: log(LogLevel.info),
      warn: log(LogLevel.warn),
      error: log(LogLevel.error),
      child: (fields) => make({ ...base, ...clean(fields) }),
    };
  };
  return make(clean(options.fields ?? {}));
}

/** A logger that drops everything (tests, embedding). */
export const silentLogger: Logger = createLogger({ write: () => {} });

/** Errors become their message (and code), never a stack with arguments in it; undefined fields are left out. */
function clean(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[key] = value instanceof Error ? errorFields(value) : value;
  }
  return out;
}

function errorFields(error: Error): LogFields {
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(code === undefined ? {} : { code }) };
}
