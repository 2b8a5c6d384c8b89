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
