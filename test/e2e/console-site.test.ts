import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleConfigSchema, consoleConfig } from '../../core/api/console-config.js';
import { ensureConsoleBuilt } from '../../local/console-site.js';
import type { LocalStack } from '../../local/stack.js';
import { startTestStack } from '../helpers/local-api.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';

/** A request with the path exactly as given: fetch would resolve `..` before sending it. */
function rawGet(base: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the operator console on the local stack', () => {
  let stack: LocalStack;
  let oidc: TestOidcProvider;
  let site: string;

  beforeAll(async () => {
    oidc = await startOidcProvider();
    const settings = {
      issuer: oidc.issuer,
      audience: oidc.audience,
      rolesClaim: 'roles',
      clientIds: ['console'],
    };
    stack = await startTestStack({ consoleDir: await ensureConsoleBuilt(), oidc: settings });
    site = stack.consoleUrl as string;
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await oidc?.stop();
  });

  it('serves index.html at / without a key', async () => {
    const response = await fetch(site);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toContain('<div id="app"></div>');
    // Its own origin and the issuer's, nothing else; the browser test shows the console works under it.
    expect(response.headers.get('content-security-policy')).toContain(`connect-src 'self' ${oidc.issuer}`);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('serves the built script the page names, as JavaScript', async () => {
    const html = await (await fetch(site)).text();
    const script = html.match(/src="\.\/(assets\/[^"]+\.js)"/)?.[1];

    const response = await fetch(new URL(script as string, site));

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('serves config.json from the OIDC settings the authorizer uses', async () => {
    const response = await fetch(new URL('config.json', site));
    const config = ConsoleConfigSchema.parse(await response.json());

    expect(config).toEqual(
      consoleConfig({
        issuer: oidc.issuer,
        audience: oidc.audience,
        rolesClaim: 'roles',
        clientIds: ['console'],
      }),
    );
    expect(config).toEqual({ apiBase: '/api/v1', oidc: { issuer: oidc.issuer, clientId: 'console' } });
  });

  it.each([
    '/../package.json',
    '/..%2fpackage.json',
    '/%2e%2e/%2e%2e/package.json',
    '/assets/..%2f..%2f..%2fpackage.json',
    '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fpackage.json',
    '/%00index.html',
    '/assets',
    '/no-such-file.js',
  ])('refuses %s with 404', async (path) => {
    const response = await rawGet(site, path);

    expect(response.status).toBe(404);
    expect(response.body).not.toContain('"name"');
  });

  it('leaves /api/v1 to the API: its routes still want a key', async () => {
    expect((await fetch(new URL('api/v1/schedules', site))).status).toBe(401);
    expect((await fetch(new URL('api/v1/health', site))).status).toBe(200);
  });
});
