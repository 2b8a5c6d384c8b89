import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadWorkerConfig, parseWorkerConfig } from '../../../worker/config.js';
import { suiteTempDir } from '../../helpers/temp-dir.js';

const minimal = { apiUrl: 'http://localhost:3000/api/v1/' };

const problemsOf = (input: unknown): readonly string[] => {
  try {
    parseWorkerConfig(input, '/etc/worker');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('parseWorkerConfig', () => {
  it('applies the defaults to a minimal file', () => {
    const config = parseWorkerConfig(minimal, '/etc/worker');

    expect(config).toMatchObject({
      apiUrl: 'http://localhost:3000/api/v1',
      apiKeyEnv: 'WORKER_API_KEY',
      pools: ['default'],
      concurrency: 4,
      pollWaitSeconds: 20,
      shutdownGraceSeconds: 60,
      killGraceSeconds: 5,
      pwshPath: 'pwsh',
      sqlConnections: {},
      connectedSystems: {},
    });
    expect(config.workerId).toMatch(/^[A-Za-z0-9._:@-]{1,128}$/);
    expect(config).not.toHaveProperty('apiKey');
  });

  it('resolves a command adapter working directory against the file folder', () => {
    const config = parseWorkerConfig(
      {
        ...minimal,
        connectedSystems: {
          '1': { name: 'Corporate LDAP', command: ['node', 'ldap.mjs', '{runProfileName}'] },
          '2': { command: ['hr-sync'], workingDirectory: 'adapters/hr' },
          '3': { http: { url: 'https://idm.example/run-profiles', tokenEnv: 'IDM_TOKEN' } },
        },
        sqlConnections: { 'audit-db': { connectionStringEnv: 'AUDIT_DB_URL' } },
      },
      '/etc/worker',
    );

    expect(config.connectedSystems).toEqual({
      '1': {
        name: 'Corporate LDAP',
        command: ['node', 'ldap.mjs', '{runProfileName}'],
        workingDirectory: '/etc/worker',
      },
      '2': { command: ['hr-sync'], workingDirectory: '/etc/worker/adapters/hr' },
      '3': { http: { url: 'https://idm.example/run-profiles', method: 'POST', tokenEnv: 'IDM_TOKEN' } },
    });
    expect(config.sqlConnections).toEqual({
      'audit-db': { kind: 'postgres', connectionStringEnv: 'AUDIT_DB_URL' },
    });
  });

  it.each([
    { name: 'a missing apiUrl', input: {}, problem: /^apiUrl: / },
    {
      name: 'a non-http apiUrl',
      input: { apiUrl: 'ftp://x' },
      problem: /^apiUrl: Must be the http\(s\) URL of the API/,
    },
    {
      name: 'credentials in apiUrl',
      input: { apiUrl: 'https://u:p@api.example/api/v1' },
      problem: /^apiUrl: Must not contain credentials/,
    },
    {
      name: 'an unknown field',
      input: { ...minimal, concurency: 2 },
      problem: /^\(top level\): Unrecognized key: "concurency"/,
    },
    {
      name: 'a secret in the file',
      input: { ...minimal, apiKey: 'sek_x' },
      problem: /^apiKey: Secrets are never read from the file/,
    },
    {
      name: 'a bad env var name',
      input: { ...minimal, apiKeyEnv: 'my-key' },
      problem: /^apiKeyEnv: Must be the name of an environment variable/,
    },
    { name: 'zero concurrency', input: { ...minimal, concurrency: 0 }, problem: /^concurrency: Too small/ },
    {
      name: 'a long poll over 20 s',
      input: { ...minimal, pollWaitSeconds: 30 },
      problem: /^pollWaitSeconds: Too big/,
    },
    {
      name: 'a bad pool name',
      input: { ...minimal, pools: ['ok', 'not ok'] },
      problem: /^pools\[1\]: Must be a worker pool name/,
    },
    { name: 'a bad worker id', input: { ...minimal, workerId: 'has space' }, problem: /^workerId: / },
    {
      name: 'a connection string in the file',
      input: {
        ...minimal,
        sqlConnections: { db: { connectionStringEnv: 'DB', connectionString: 'postgres://u:p@h/db' } },
      },
      problem: /^sqlConnections\.db\.connectionString: Secrets are never read from the file/,
    },
    {
      name: 'an unsupported SQL kind',
      input: { ...minimal, sqlConnections: { db: { kind: 'mssql', connectionStringEnv: 'DB' } } },
      problem: /^sqlConnections\.db\.kind: Only "postgres" is supported/,
    },
    {
      name: 'a non-numeric connected system id',
      input: { ...minimal, connectedSystems: { ldap: { command: ['x'] } } },
      problem: /^connectedSystems\.ldap: Connected system ids are positive integers/,
    },
    {
      name: 'a connected system without adapter',
      input: { ...minimal, connectedSystems: { '1': { name: 'LDAP' } } },
      problem: /^connectedSystems\.1: Needs exactly one adapter/,
    },
    {
      name: 'a connected system with both adapters',
      input: { ...minimal, connectedSystems: { '1': { command: ['x'], http: { url: 'http://a' } } } },
      problem: /^connectedSystems\.1: Needs exactly one adapter/,
    },
    {
      name: 'an empty command',
      input: { ...minimal, connectedSystems: { '1': { command: [] } } },
      problem: /^connectedSystems\.1\.command: Must name at least the program to run/,
    },
    {
      name: 'an unknown placeholder',
      input: { ...minimal, connectedSystems: { '1': { command: ['x', '--profile={profile}'] } } },
      problem: /^connectedSystems\.1\.command\[1\]: Unknown placeholder \{profile\}/,
    },
    {
      name: 'credentials in an adapter URL',
      input: { ...minimal, connectedSystems: { '1': { http: { url: 'https://u:p@idm.example/x' } } } },
      problem: /^connectedSystems\.1\.http\.url: Must not contain credentials/,
    },
    {
      name: 'a token in the file',
      input: {
        ...minimal,
        connectedSystems: { '1': { http: { url: 'https://idm.example/x', token: 't' } } },
      },
      problem: /^connectedSystems\.1\.http\.token: Secrets are never read from the file/,
    },
  ])('names the field for $name', ({ input, problem }) => {
    const problems = problemsOf(input);

    expect(
      problems.some((p) => problem.test(p)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('reports every problem at once', () => {
    expect(problemsOf({ apiUrl: 'nope', concurrency: -1, pools: [] })).toHaveLength(3);
  });
});

describe('loadWorkerConfig', () => {
  const dir = suiteTempDir('worker-config-');

  it('says when the file is missing', async () => {
    await expect(loadWorkerConfig(join(dir(), 'absent.json'))).rejects.toThrow(
      /^Worker configuration file not found: .*absent\.json$/,
    );
  });

  it('says when the file is not JSON', async () => {
    const file = join(dir(), 'broken.json');
    await writeFile(file, '{ "apiUrl": ');

    await expect(loadWorkerConfig(file)).rejects.toThrow(/broken\.json is not valid JSON/);
  });

  it('names the file and the field', async () => {
    const file = join(dir(), 'bad.json');
    await writeFile(file, JSON.stringify({ ...minimal, concurrency: 'four' }));

    await expect(loadWorkerConfig(file)).rejects.toThrow(
      /bad\.json:\n {2}- concurrency: Invalid input: expected number/,
    );
  });

  describe('plain http', () => {
    const load = async (config: Record<string, unknown>) => {
      const file = join(dir(), 'http.json');
      await writeFile(file, JSON.stringify(config));
      return loadWorkerConfig(file);
    };
    const adapter = (url: string) => ({ connectedSystems: { '2': { http: { url, tokenEnv: 'HR_TOKEN' } } } });
    const refusal = (field: string, host: string, what: string) =>
      `${field}: Plain http:// to ${host} would send ${what} unencrypted; use https://, or set "allowInsecureHttp": true to accept it`;

    it('refuses an apiUrl and an HTTP adapter off the machine, one line each', async () => {
      const error = await load({
        apiUrl: 'http://example.com/api/v1',
        ...adapter('http://idm.example.com/run-profiles'),
      }).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        refusal('apiUrl', 'example.com', 'the API key'),
        refusal('connectedSystems.2.http.url', 'idm.example.com', 'its token and requests'),
      ]);
    });

    it('accepts them with "allowInsecureHttp": true', async () => {
      const config = await load({
        apiUrl: 'http://example.com/api/v1',
        ...adapter('http://idm.example.com/run-profiles'),
        allowInsecureHttp: true,
      });

      expect(config.apiUrl).toBe('http://example.com/api/v1');
      expect(config.connectedSystems['2']).toMatchObject({
        http: { url: 'http://idm.example.com/run-profiles' },
      });
    });

    it.each(['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000', 'https://example.com'])(
      'accepts %s without it',
      async (origin) => {
        const config = await load({ apiUrl: `${origin}/api/v1`, ...adapter(`${origin}/run-profiles`) });

        expect(config).toMatchObject({ apiUrl: `${origin}/api/v1`, allowInsecureHttp: false });
      },
    );
  });

  it('loads the example configuration', async () => {
    const config = await loadWorkerConfig(join(import.meta.dirname, '../../../examples/worker.json'));

    expect(config.connectedSystems['1']).toMatchObject({
      name: 'Corporate LDAP',
      workingDirectory: expect.stringMatching(/examples$/),
    });
  });
});
