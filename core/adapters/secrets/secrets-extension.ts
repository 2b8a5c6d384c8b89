import { PAGE_TOKEN_ENV } from '../../environment.js';
import type { PageTokenKeys } from '../../paging.js';

/** The extension's port when the variable is unset (its documented default). */
const DEFAULT_PORT = '2773';

/**
 * A secret's current value and, when it was rotated, its previous one, read through the AWS
 * Parameters and Secrets Lambda Extension: plain HTTP on localhost, authenticated by the function's
 * session token, so no SDK client is bundled for two reads per cold start.
 */
export async function readSecretVersions(secretId: string, env: NodeJS.ProcessEnv): Promise<PageTokenKeys> {
  const port = env[PAGE_TOKEN_ENV.extensionPort] ?? DEFAULT_PORT;
  const read = async (stage: 'AWSCURRENT' | 'AWSPREVIOUS') => {
    const query = new URLSearchParams({ secretId, versionStage: stage });
    const response = await fetch(`http://localhost:${port}/secretsmanager/get?${query}`, {
      headers: { 'X-Aws-Parameters-Secrets-Token': env.AWS_SESSION_TOKEN ?? '' },
    });
    if (!response.ok) return { status: response.status, value: undefined };
    const { SecretString } = (await response.json()) as { SecretString?: unknown };
    return { status: response.status, value: typeof SecretString === 'string' ? SecretString : undefined };
  };
  const [current, previous] = await Promise.all([read('AWSCURRENT'), read('AWSPREVIOUS')]);
  // The status only: a secret's value never goes into an error or a log.
  if (!current.value) throw new Error(`Secret ${secretId} could not be read (HTTP ${current.status}).`);
  // A secret never rotated has no previous version: then the current key is the only one.
  return previous.value ? [current.value, previous.value] : [current.value];
}
