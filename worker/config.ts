import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { WORKER_LIMITS } from '../core/schemas/worker.js';
import { LogLevel } from './log.js';

/**
 * The worker's one configuration file (JSON). It names things — the API, pools, SQL connections,
 * connected-system adapters — and the *environment variables* that hold secrets; it never holds a
 * secret itself, and nothing in it is sent to the service except `workerId` and `pools`.
 */

/** A configuration file that cannot be used; `problems` names each bad field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    message: string,
    readonly problems: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(
      problems.length > 0 ? `${message}\n${problems.map((p) => `  - ${p}`).join('\n')}` : message,
      options,
    );
  }
}

/** Placeholders a run-profile command template may use; each is replaced within an argument, never split. */
export const COMMAND_PLACEHOLDERS = ['connectedSystemId', 'runProfileName', 'executionId', 'taskId'] as const;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  error: 'Must be the name of an environment variable (e.g. WORKER_API_KEY)',
});

const poolName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'Must be a worker pool name' });
const WORKER_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The host name, made into a valid worker id. */
export const defaultWorkerId = (): string =>
  hostname()
    .replace(/[^A-Za-z0-9._:@-]/g, '-')
    .slice(0, 128) || 'worker';

/** Whether a URL carries `user:password@` (zod runs refinements even on a value that is not a URL). */
const hasCredentials = (url: string): boolean => {
  try {
    const parsed = new URL(url);
    return !!(parsed.username || parsed.password);
  } catch {
    return false;
  }
};

/**
 * Hosts plain http:// may reach without `allowInsecureHttp`: traffic to them never leaves the machine
 * (`npm start` embeds a worker that talks to http://localhost). `URL.hostname` keeps IPv6 brackets and
 * normalises IPv4 shorthands such as `127.1`.
 */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** Whether a URL would send its headers (the API key, a bearer token) unencrypted across the network. */
const isPlainHttpOffMachine = (url: string): boolean => {
  // zod runs the refinement below even when a URL field has issues of its own, so `url` may be no URL.
  const parsed = URL.parse(url);
  return parsed?.protocol === 'http:' && !LOOPBACK_HOST.test(parsed.hostname);
};

const plainHttpRefused = (url: string, what: string): string =>
  `Plain http:// to ${new URL(url).hostname} would send ${what} unencrypted; use https://, or set "allowInsecureHttp": true to accept it`;

const noSecretHere = (field: string, instead: string) =>
  z
    .unknown()
    .optional()
    .refine((value) => value === undefined, {
      error: `Secrets are never read from the file: remove "${field}" and set ${instead}`,
    });

const CommandAdapter = z.strictObject({
  /**
   * argv of the adapter program, e.g. `["node", "adapters/ldap.mjs", "{runProfileName}"]`. No shell:
   * the first element is the program, found on PATH or relative to `workingDirectory`.
   */
  command: z
    .array(z.string().min(1, { error: 'Must not be empty' }))
    .min(1, { error: 'Must name at least the program to run' })
    .superRefine((argv, ctx) => {
      argv.forEach((arg, index) => {
        for (const [, name] of arg.matchAll(/\{([^{}]*)\}/g)) {
          if (!(COMMAND_PLACEHOLDERS as readonly string[]).includes(name ?? '')) {
            ctx.addIssue({
              code: 'custom',
              path: [index],
              message: `Unknown placeholder {${name}}; use ${COMMAND_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
            });
          }
        }
      });
    }),
  /** Where the command runs; relative to the configuration file's folder, which is also the default. */
  workingDirectory: z.string().min(1).optional(),
});

const HttpAdapter = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'Must be an http(s) URL' })
    .refine((url) => !hasCredentials(url), {
      error: 'Must not contain credentials; name an environment variable in tokenEnv instead',
    }),
  method: z.enum(['POST', 'PUT']).default('POST'),
  /** Environment variable holding a bearer token sent as `Authorization: Bearer …`. */
  tokenEnv: envName.optional(),
  token: noSecretHere('token', 'tokenEnv to the name of an environment variable holding it'),
});

const ConnectedSystem = z
  .strictObject({
    /** Display name for logs and messages, e.g. "Corporate LDAP". */
    name: z.string().min(1).max(200).optional(),
    command: CommandAdapter.shape.command.optional(),
    workingDirectory: CommandAdapter.shape.workingDirectory,
    http: HttpAdapter.optional(),
  })
  .superRefine((system, ctx) => {
    if (!system.command === !system.http) {
      ctx.addIssue({
        code: 'custom',
        message: 'Needs exactly one adapter: "command" (an argv template) or "http" ({ "url": … })',
      });
    }
    if (system.http && system.workingDirectory !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['workingDirectory'],
        message: 'Only a command adapter has a working directory',
      });
    }
  });

const WorkerConfigFields = z.strictObject({
  /** Base URL of the service's API, including `/api/v1`. */
  apiUrl: z
    .url({
      protocol: /^https?$/,
      error: 'Must be the http(s) URL of the API, e.g. http://localhost:3000/api/v1',
    })
    .refine((url) => !hasCredentials(url), {
      error: 'Must not contain credentials; the API key comes from the variable named by apiKeyEnv',
    })
    .transform((url) => url.replace(/\/+$/, '')),
  /** Environment variable holding the Worker API key (sent as X-Api-Key, never logged). */
  apiKeyEnv: envName.default('WORKER_API_KEY'),
  apiKey: noSecretHere('apiKey', 'the environment variable named by apiKeyEnv (default WORKER_API_KEY)'),
  workerId: z
    .string()
    .regex(WORKER_ID, { error: 'Must be 1-128 letters, digits or . _ : @ -' })
    .default(defaultWorkerId),
  pools: z.array(poolName).min(1).max(WORKER_LIMITS.pools).default(['default']),
  /** Most steps run at once. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** Long poll: how long one claim waits for work; by default as long as the API allows. */
  pollWaitSeconds: z.number().int().min(0).max(WORKER_LIMITS.waitSeconds).default(WORKER_LIMITS.waitSeconds),
  /** On SIGTERM, how long running steps may go on before they are stopped and reported Cancelled. */
  shutdownGraceSeconds: z.number().int().min(0).max(86_400).default(60),
  /** After SIGTERM to a step's process group, how long before SIGKILL. */
  killGraceSeconds: z.number().min(0).max(300).default(5),
  /** The PowerShell 7 executable: a path, or a name looked up on PATH. */
  pwshPath: z.string().min(1).default('pwsh'),
  logLevel: z.enum(LogLevel).default(LogLevel.info),
  /** SQL connections by the name steps use in `sqlConnection`. */
  sqlConnections: z
    .record(
      z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'Connection names are letters, digits, . _ -' }),
      z.strictObject({
        kind: z.literal('postgres', { error: 'Only "postgres" is supported' }).default('postgres'),
        connectionStringEnv: envName,
        connectionString: noSecretHere(
          'connectionString',
          'connectionStringEnv to the name of an environment variable holding it',
        ),
      }),
    )
    .default({}),
  /** Run-profile adapters by connected system id. */
  connectedSystems: z
    .record(
      z.string().regex(/^[1-9][0-9]*$/, { error: 'Connected system ids are positive integers' }),
      ConnectedSystem,
    )
    .default({}),
  /**
   * Accept plain http:// to hosts other than loopback for `apiUrl` and HTTP adapters, where something
   * else encrypts the network (a VPN, a service mesh). Off by default: the key would travel in clear.
   */
  allowInsecureHttp: z.boolean().default(false),
});

export const WorkerConfigSchema = WorkerConfigFields.superRefine((config, ctx) => {
  if (config.allowInsecureHttp) return;
  if (isPlainHttpOffMachine(config.apiUrl)) {
    ctx.addIssue({
      code: 'custom',
      path: ['apiUrl'],
      message: plainHttpRefused(config.apiUrl, 'the API key'),
    });
  }
  for (const [id, system] of Object.entries(config.connectedSystems)) {
    if (system.http && isPlainHttpOffMachine(system.http.url)) {
      ctx.addIssue({
        code: 'custom',
        path: ['connectedSystems', id, 'http', 'url'],
        message: plainHttpRefused(system.http.url, 'its token and requests'),
      });
    }
  }
});

type Parsed = z.infer<typeof WorkerConfigSchema>;
type ParsedSystem = Parsed['connectedSystems'][string];

/** A connected system's adapter: a command template or an HTTP endpoint. */
export type ConnectedSystemConfig =
  | { name?: string | undefined; command: string[]; workingDirectory: string }
  | { name?: string | undefined; http: z.infer<typeof HttpAdapter> };

export type SqlConnectionConfig = Parsed['sqlConnections'][string];

/** A validated configuration with defaults applied and relative paths resolved. */
export type WorkerConfig = Omit<Parsed, 'apiKey' | 'connectedSystems' | 'sqlConnections'> & {
  sqlConnections: Record<string, SqlConnectionConfig>;
  connectedSystems: Record<string, ConnectedSystemConfig>;
};

/**
 * Validates a configuration object. `baseDir` is the folder relative paths in it are taken from
 * (the configuration file's folder).
 *
 * @throws ConfigError naming every bad field.
 */
export function parseWorkerConfig(
  input: unknown,
  baseDir: string = process.cwd(),
  source = 'configuration',
): WorkerConfig {
  const result = WorkerConfigSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      `Invalid worker ${source}:`,
      result.error.issues.map((issue) => {
        const nested = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
        const path = pathOf(issue.path);
        return `${path || '(top level)'}: ${nested ?? issue.message}`;
      }),
    );
  }
  const { apiKey: _secret, connectedSystems, ...rest } = result.data;
  return {
    ...rest,
    connectedSystems: Object.fromEntries(
      Object.entries(connectedSystems).map(([id, system]) => [id, resolveSystem(system, baseDir)]),
    ),
  };
}

/**
 * Every environment variable the configuration names as holding a secret: the API key, HTTP adapter
 * tokens and SQL connection strings. The worker reads them; nothing it starts may.
 */
export function secretVariables(config: WorkerConfig): Set<string> {
  const names = new Set([config.apiKeyEnv]);
  for (const system of Object.values(config.connectedSystems)) {
    if ('http' in system && system.http.tokenEnv) names.add(system.http.tokenEnv);
  }
  for (const connection of Object.values(config.sqlConnections)) names.add(connection.connectionStringEnv);
  return names;
}

/** Reads and validates a configuration file. @throws ConfigError */
export async function loadWorkerConfig(file: string): Promise<WorkerConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `Worker configuration file not found: ${path}` : `Cannot read ${path}: ${code}`,
      [],
      { cause: error },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`, [], { cause: error });
  }
  return parseWorkerConfig(json, dirname(path), `configuration file ${path}`);
}

function resolveSystem(system: ParsedSystem, baseDir: string): ConnectedSystemConfig {
  const name = system.name === undefined ? {} : { name: system.name };
  if (system.http) return { ...name, http: system.http };
  return {
    ...name,
    command: system.command ?? [],
    workingDirectory: resolve(baseDir, system.workingDirectory ?? '.'),
  };
}

/** `connectedSystems.1.command[0]` style paths. */
function pathOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    return text ? `${text}.${String(key)}` : String(key);
  }, '');
}
