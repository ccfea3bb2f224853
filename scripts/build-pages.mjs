// Bundles the login pages' small scripts (browser TypeScript under views/scripts/) into
// views/static/, where the IdP serves them as /static/*.js, and type-checks them against
// views/scripts/tsconfig.json (DOM, no Node types), as build-pwa.mjs does for the PWA.
//   node scripts/build-pages.mjs            bundle + type-check
//   node scripts/build-pages.mjs --no-check bundle only
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, 'views', 'scripts');
const check = !process.argv.includes('--no-check');

function typecheck() {
  if (!check) return Promise.resolve(0);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { stdio: 'inherit' });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const [checked] = await Promise.all([
  typecheck(),
  build({
    entryPoints: readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f)),
    outdir: join(root, 'views', 'static'),
    bundle: true,
    format: 'iife',
    target: 'es2020',
    minify: true,
    logLevel: 'warning',
  }),
]);
if (checked !== 0) {
  console.error('pages: type errors (tsc -p views/scripts/tsconfig.json)');
  process.exit(1);
}
