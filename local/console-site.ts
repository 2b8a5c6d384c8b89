import { mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CONSOLE_BUILD_DIR,
  CONSOLE_CONFIG_FILE,
  CONSOLE_SOURCE_DIR,
  type ConsoleConfig,
  consoleContentSecurityPolicy,
} from '../core/api/console-config.js';

/**
 * The operator console on `npm start`: its built files at `/` (what CloudFront and S3 do in the
 * cloud), with `config.json` generated from the local settings rather than read from disk, and
 * the build made on demand so a fresh clone's `npm start` serves it.
 */

const REPOSITORY = fileURLToPath(new URL('..', import.meta.url));
export const CONSOLE_DIST = join(REPOSITORY, CONSOLE_BUILD_DIR);
const INDEX = 'index.html';
/** What the bundle is built from: the console's sources and the core modules it imports. */
const SOURCES = [join(REPOSITORY, CONSOLE_SOURCE_DIR), join(REPOSITORY, 'core')];

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    // The build and its staging folders (`dist-…`) are outputs, not sources.
    if (!entry.isFile() || path.startsWith(CONSOLE_DIST) || path.includes(`${sep}node_modules${sep}`))
      continue;
    newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  return newest;
}

/** Whether the build is missing or older than a source file. */
export async function consoleBuildIsStale(): Promise<boolean> {
  const built = await stat(join(CONSOLE_DIST, INDEX)).catch(() => undefined);
  if (!built) return true;
  const newest = Math.max(...(await Promise.all(SOURCES.map(newestSource))));
  return newest > built.mtimeMs;
}

/**
 * Builds the console with its Vite config (`npm run build:console`) when it is stale; its folder.
 * The build goes to a folder of its own and is moved into place whole, so a server (another
 * `npm start`, a test) never serves a half-written build; one finished meanwhile by another wins.
 */
export async function ensureConsoleBuilt(): Promise<string> {
  if (!(await consoleBuildIsStale())) return CONSOLE_DIST;
  const { build } = await import('vite');
  const staging = await mkdtemp(`${CONSOLE_DIST}-`);
  try {
    await build({
      configFile: join(REPOSITORY, CONSOLE_SOURCE_DIR, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: staging, emptyOutDir: true },
    });
    if (await consoleBuildIsStale()) {
      await rm(CONSOLE_DIST, { recursive: true, force: true });
      await rename(staging, CONSOLE_DIST);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return CONSOLE_DIST;
}

/**
 * Serves GET and HEAD for the console: `/` is index.html, `/config.json` the given config, any
 * other path a file inside `root` or 404 (a path that resolves outside `root` included).
 */
export function consoleSite(root: string, config: ConsoleConfig) {
  const base = resolve(root);
  const configBody = JSON.stringify(config);
  const policy = consoleContentSecurityPolicy(config);
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      return void res.end('Method not allowed\n');
    }
    const send = (status: number, type: string, body: string | Buffer, cache: string) => {
      res.writeHead(status, {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': cache,
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': policy,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const notFound = () => send(404, 'text/plain; charset=utf-8', 'Not found\n', 'no-store');
    if (pathname === `/${CONSOLE_CONFIG_FILE}`)
      return send(200, CONTENT_TYPES['.json'] as string, configBody, 'no-store');
    let relative: string;
    try {
      relative = decodeURIComponent(pathname === '/' ? `/${INDEX}` : pathname);
    } catch {
      return notFound();
    }
    const file = resolve(base, `.${relative}`);
    if (relative.includes('\0') || !file.startsWith(base + sep)) return notFound();
    const body = await readFile(file).catch(() => undefined);
    if (!body) return notFound();
    // Built assets carry a content hash in their name; index.html must be fetched afresh to find new ones.
    const cache = relative.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
    send(200, CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', body, cache);
  };
}

export type ConsoleSite = ReturnType<typeof consoleSite>;
