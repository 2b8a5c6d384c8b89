import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { closeServer, listenOnLoopback } from './http.js';

/**
 * The AWS Parameters and Secrets Lambda Extension's secret endpoint, locally: the functions read
 * the secret that signs `nextToken`s exactly as in Lambda, only at another port. The key lives in
 * the data directory (an owner-only file, like DynamoDB Local's key), or in memory for one start.
 * As the extension does, it answers only a caller holding the session token, which the local runtime
 * gives its handlers: the port is reachable by anyone on the machine, the token is not.
 */

/** In the data directory: the key that signs `nextToken`s, so tokens outlive a restart. */
export const PAGE_TOKEN_KEY_FILE = 'page-token-key';
/** The secret's name locally (in AWS, the stack's secret ARN). */
export const LOCAL_PAGE_TOKEN_SECRET = 'local-page-token-key';

export interface LocalSecrets {
  readonly port: number;
  /** What the caller must send as `X-Aws-Parameters-Secrets-Token` (Lambda's AWS_SESSION_TOKEN). */
  readonly sessionToken: string;
  stop(): Promise<void>;
}

const newKey = () => randomBytes(32).toString('base64url');

/** The data directory's key (written on first start, owner-only), or a fresh one without a directory. */
export function pageTokenKey(dataDir: string | undefined): string {
  if (!dataDir) return newKey();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, PAGE_TOKEN_KEY_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = newKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

export async function startLocalSecrets(secrets: Readonly<Record<string, string>>): Promise<LocalSecrets> {
  const sessionToken = newKey();
  const expected = Buffer.from(sessionToken);
  const server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const given = Buffer.from(String(request.headers['x-aws-parameters-secrets-token'] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      send(401, { message: 'The session token is missing or wrong.' });
      return;
    }
    const url = new URL(request.url ?? '/', 'http://localhost');
    const id = url.searchParams.get('secretId') ?? '';
    const stage = url.searchParams.get('versionStage') ?? 'AWSCURRENT';
    const value = Object.hasOwn(secrets, id) ? secrets[id] : undefined;
    // Locally a secret is never rotated: it has a current version only.
    if (url.pathname !== '/secretsmanager/get' || value === undefined || stage !== 'AWSCURRENT') {
      send(400, { __type: 'ResourceNotFoundException', message: `No ${stage} version of '${id}'.` });
      return;
    }
    send(200, { Name: id, SecretString: value, VersionStages: ['AWSCURRENT'] });
  });
  return {
    port: await listenOnLoopback(server),
    sessionToken,
    stop: () => closeServer(server),
  };
}
