import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = fileURLToPath(new URL('../../core', import.meta.url));

/** Relative imports of a module (static, type-only, re-exports and dynamic), as the files they name. */
const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function modules(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return modules(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Each module of `root` with the modules of `root` it imports. */
function importGraph(root: string): Map<string, string[]> {
  return new Map(
    modules(root).map((file) => [
      file,
      [...readFileSync(file, 'utf8').matchAll(IMPORT)]
        .map(([, specifier = '']) => resolve(dirname(file), specifier.replace(/\.js$/, '.ts')))
        .filter((path) => path.startsWith(root)),
    ]),
  );
}

/** Every circle a depth-first walk meets, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string) => {
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const at = path.indexOf(next);
      if (at >= 0) found.push([...path.slice(at), next]);
      else if (!done.has(next)) visit(next);
    }
    path.pop();
    done.add(file);
  };
  for (const file of graph.keys()) if (!done.has(file)) visit(file);
  return found;
}

describe('core/ imports', () => {
  it('form no circle, type-only imports included', () => {
    const graph = importGraph(CORE);
    expect(graph.size).toBeGreaterThan(20);
    const circles = cycles(graph).map((circle) => circle.map((file) => relative(CORE, file)).join(' → '));
    expect(circles).toEqual([]);
  });

  it('are all read, and their circles found, so an empty list means something', () => {
    const source = [
      "import type { A } from './a.js';",
      "export { type B, b } from '../b.js';",
      "const c = await import('./c/d.js');",
      "import { z } from 'zod';",
    ].join('\n');
    expect([...source.matchAll(IMPORT)].map(([, specifier]) => specifier)).toEqual([
      './a.js',
      '../b.js',
      './c/d.js',
    ]);
    const a = join(CORE, 'a.ts');
    const b = join(CORE, 'b.ts');
    const graph = new Map([
      [a, [b]],
      [b, [a]],
    ]);
    expect(cycles(graph)).toEqual([[a, b, a]]);
  });
});
