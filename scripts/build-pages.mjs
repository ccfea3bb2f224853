// Bundles the login pages' small scripts (TypeScript under src/interaction/browser/) into
// views/static/, where the IdP serves them as /static/*.js.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';

const dir = 'src/interaction/browser';
await build({
  entryPoints: readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/${f}`),
  outdir: 'views/static',
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  logLevel: 'warning',
});
