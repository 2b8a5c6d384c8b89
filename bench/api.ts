/** The service's API as the benchmarks call it: JSON in, JSON out, status and body as answered, no retries. */

export interface Answer {
  status: number;
  body: any;
}

export function apiCaller(apiUrl: string) {
  return async (
    method: string,
    path: string,
    key: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<Answer> => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
}

export type ApiCall = ReturnType<typeof apiCaller>;

/** Creates an API key with the Worker role, as an admin; returns the key. */
export async function createWorkerKey(call: ApiCall, adminKey: string, name: string): Promise<string> {
  const answer = await call('POST', '/api-keys', adminKey, { name, roles: ['Worker'] });
  if (answer.status !== 201)
    throw new Error(`Creating a Worker key: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.key as string;
}
