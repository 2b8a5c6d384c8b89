import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The operator console: a static single-page app. Assets are referenced relatively (`base: './'`)
 * so the same build works at `npm start`'s `/` and behind any CloudFront origin path.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  // Preact's automatic JSX runtime, without a framework plugin; never its development variant, which a
  // NODE_ENV inherited from the caller (vitest's `test`) would pick, shipping source paths and 50% more bytes.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact', development: false } },
  build: {
    outDir: fileURLToPath(new URL('dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  logLevel: 'warn',
});
